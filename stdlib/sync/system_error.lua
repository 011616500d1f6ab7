--- Structured errors for the system clients: what `mlhost.http.request` answered becomes a raised table
--- `{kind, system, status, retryable, retry_after, ambiguous, message}` so connector code reads straight-line, a
--- failure can never be ignored, and the runtime knows whether to retry the record or park it.
local type, tostring, error, setmetatable = type, tostring, error, setmetatable

local _M = {}

---@class stdlib.SystemError
---@field kind string "network", "http", "auth", "not_found", "throttled", "api" (errors in a 200), "max_cost"
--- (a Shopify query over the cost ceiling) or "business"
---@field system string
---@field status integer?
---@field retryable boolean
---@field retry_after number?
---@field ambiguous boolean? the request may have been acted on: look the record up before sending it again
---@field requested number? for "max_cost": the points Shopify said the query would cost
---@field message string
local SystemError = {}
SystemError.__index = SystemError
SystemError.__tostring = function(e) return e.message end

--- Raises a structured error.
---@param fields stdlib.SystemError
function _M.raise(fields)
  error(setmetatable(fields, SystemError), 0)
end

--- Whether `err` is one of these errors (for a caller that handles, say, `not_found`).
---@param err any
---@param kind string?
---@return boolean
function _M.is(err, kind)
  return type(err) == "table" and getmetatable(err) == SystemError and (kind == nil or err.kind == kind)
end

--- Checks one exchange: a failure or an HTTP error status raises; otherwise the response is returned.
---@param system string the system's name, for messages
---@param what string what was asked, for messages ("GET SINVOICE")
---@param res table? the response
---@param token string? the failure token
---@param detail table? the failure details
---@param describe fun(res: table): string? the system's own error text, from its body
---@return table res
function _M.check(system, what, res, token, detail, describe)
  if not res then
    _M.raise({
      kind = "network", system = system, retryable = detail and detail.retryable or false,
      ambiguous = detail and detail.ambiguous or false,
      message = system .. ": " .. what .. ": " .. tostring(token) .. (detail and (" (" .. detail.message .. ")") or ""),
    })
  end
  if res.status >= 400 then
    local text = describe and describe(res) or nil
    local kind = res.status == 404 and "not_found" or (res.throttled and "throttled" or "http")
    -- A 401 after the host's own refresh-and-retry is a token that went bad in flight: the next attempt gets a
    -- fresh one. A 403 is a missing permission: a person must grant it.
    local retryable = res.retryable or res.status == 401 or res.status == 408
    if res.status == 401 or res.status == 403 then kind = "auth" end
    _M.raise({
      kind = kind, system = system, status = res.status, retryable = retryable, retry_after = res.retry_after,
      message = system .. ": " .. what .. " answered " .. res.status .. (text and (": " .. text) or ""),
    })
  end
  return res
end

return _M
