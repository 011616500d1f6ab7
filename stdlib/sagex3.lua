--- Sage X3 client over the Syracuse REST web API (api1): queries with `where`/`orderBy`/`count` following
--- `$links.$next`, details, creation and edits, with X3's `$diagnoses` in every error. Class, representation and
--- field names differ between X3 versions and installations, so each is a setting with the API facts' default.
--- Calls go through one `mlhost.http.system`, whose `max_concurrent` and `rate` protect the Syracuse sessions.
local mlhost = mlhost
local http = mlhost.http
local system_error = require "system_error"
local paging = require "paging"
local ipairs, pairs, tostring, type, setmetatable = ipairs, pairs, tostring, type, setmetatable
local concat = table.concat

local _M = {}

--- The defaults, by role; override any in `settings.classes` / `settings.fields`.
_M.CLASSES = {
  customer = "BPCUSTOMER", item = "ITMMASTER", account = "GACCOUNT", cost_centre = "CCE", invoice = "SINVOICE",
  delivery = "SDELIVERY", stock = "STOCK", movement = "STOJOU",
}
_M.FIELDS = {
  customer_code = "BPCNUM", customer_email = "EMAIL", item_code = "ITMREF", item_class = "TCLCOD",
  account_code = "ACC", cost_centre_code = "CCE", enabled = "ENAFLG", invoice_number = "NUM",
  invoice_reference = "CUSORDREF", invoice_status = "ZSHOPSTA", delivery_number = "SDHNUM",
  delivery_reference = "YSHOPFUL", updated = "UPDDATTIM", stock_key = "STOCOU", site = "STOFCY", quantity = "QTYSTU",
}
--- X3's local menu 1/2 (No/Yes): an enabled account or cost centre has 2.
_M.ENABLED = 2

---@class sagex3.Client
---@field system string
---@field base string
---@field classes table<string, string>
---@field fields table<string, string>
---@field page_size integer
local Client = {}
Client.__index = Client

local function merged(defaults, overrides)
  local out = {}
  for k, v in pairs(defaults) do out[k] = v end
  for k, v in pairs(overrides or {}) do out[k] = v end
  return out
end

--- A client for one X3 folder. `settings`: `url` (scheme, host and port of Syracuse), `endpoint` (the X3
--- endpoint/folder, e.g. SEED), `credential` (Basic Syracuse user, or OAuth2 with refresh for the cloud gateway),
--- `page_size` (default 100), `classes`, `fields`, and `timeout`, `max_concurrent` (default 4), `rate`, `retries`,
--- TLS (`ca_bundle`, `client_cert`, `client_key`, `verify_tls`) and `proxy` for on-premise servers.
---@param settings table
---@return sagex3.Client
function _M.client(settings)
  if settings.api and settings.api ~= "rest" then
    error("sagex3: api '" .. tostring(settings.api) .. "' is not supported by this client version (use \"rest\")", 2)
  end
  local system = http.system {
    name = settings.name or "x3", base_url = settings.url, credential = settings.credential,
    timeout = settings.timeout, max_concurrent = settings.max_concurrent or 4, rate = settings.rate,
    burst = settings.rate and math.max(1, settings.rate // 2) or nil, retries = settings.retries,
    ca_bundle = settings.ca_bundle, client_cert = settings.client_cert, client_key = settings.client_key,
    verify_tls = settings.verify_tls, proxy = settings.proxy,
  }
  return setmetatable({
    system = system, base = "/api1/x3/erp/" .. (settings.endpoint or "SEED") .. "/",
    classes = merged(_M.CLASSES, settings.classes), fields = merged(_M.FIELDS, settings.fields),
    page_size = settings.page_size or 100,
  }, Client)
end

--- A string literal for `where`: single quotes, a quote doubled.
---@param value any
---@return string
function _M.quote(value) return "'" .. tostring(value):gsub("'", "''") .. "'" end

local function describe(res)
  local body = res.json
  local diagnoses = type(body) == "table" and (body["$diagnoses"] or (body.extensions and body.extensions.diagnoses))
  if type(diagnoses) ~= "table" then return nil end
  local out = {}
  for _, d in ipairs(diagnoses) do
    if d["$severity"] ~= "info" then out[#out + 1] = d["$message"] end
  end
  return #out > 0 and concat(out, "; ") or nil
end

-- Statuses that are X3 refusing the content (a business rule): a retry would be refused again, so the record is
-- parked for a person. Auth, not-found, timeouts and throttling are classified by `system_error.check`.
local BUSINESS = { [400] = true, [409] = true, [412] = true, [422] = true }

--- One request; X3's answer or a raised `system_error`.
local function call(self, what, options)
  options.system, options.decimals = self.system, true
  local res, token, detail = http.request(options)
  if res and BUSINESS[res.status] then
    system_error.raise({
      kind = "business", system = "x3", status = res.status, retryable = false,
      message = "x3: " .. what .. " refused: " .. (describe(res) or ("HTTP " .. res.status)),
    })
  end
  return system_error.check("x3", what, res, token, detail, describe)
end

local function path(self, role, key)
  local class = self.classes[role]
  if not class then error("sagex3: no class for role '" .. tostring(role) .. "'", 3) end
  return self.base .. class .. (key and ("(" .. _M.quote(key) .. ")") or ""), class
end

--- Rows of `role` ("customer", "invoice", …) matching `opts.where`, in `opts.order_by`, following `$links.$next`.
---@param role string
---@param opts {where: string?, order_by: string?, count: integer?}?
---@return fun(): table?
function Client:query(role, opts)
  opts = opts or {}
  local p, class = path(self, role)
  return paging.items(function(next_url)
    local res
    if next_url then
      res = call(self, "query " .. class, { url = next_url })
    else
      res = call(self, "query " .. class, { path = p, query = {
        representation = class .. ".$query", where = opts.where, orderBy = opts.order_by,
        count = opts.count or self.page_size,
      } })
    end
    local body = res.json
    local links = body["$links"]
    return body["$resources"] or {}, links and links["$next"] and links["$next"]["$url"] or nil
  end, nil)
end

--- The first row of `role` matching `where`, or nil.
---@param role string
---@param where string
---@return table?
function Client:first(role, where)
  return self:query(role, { where = where, count = 1 })()
end

--- The row of `role` with key `key`, or nil when X3 has none.
---@param role string
---@param key string
---@return table?
function Client:read(role, key)
  local p, class = path(self, role, key)
  local ok, res = pcall(call, self, "read " .. class .. " " .. key, {
    path = p, query = { representation = class .. ".$details" },
  })
  if ok then return res.json end
  if system_error.is(res, "not_found") then return nil end
  error(res, 0)
end

--- Creates a row of `role`; returns it as X3 stored it (with its generated number). Not repeated by the host
--- after an ambiguous failure: look the row up by its reference before calling again.
---@param role string
---@param body table
---@return table
function Client:create(role, body)
  local p, class = path(self, role)
  return call(self, "create " .. class, {
    method = "POST", path = p, query = { representation = class .. ".$create" }, json = body,
  }).json
end

--- Changes fields of the row `key` of `role` (a PUT: safe to repeat).
---@param role string
---@param key string
---@param body table
---@return table
function Client:update(role, key, body)
  local p, class = path(self, role, key)
  return call(self, "update " .. class .. " " .. key, {
    method = "PUT", path = p, query = { representation = class .. ".$edit" }, json = body,
  }).json
end

--- The customer whose email is `email` (compared case-insensitively), or nil.
---@param email string
---@return table?
function Client:customer_by_email(email)
  return self:first("customer", "upper(" .. self.fields.customer_email .. ") eq " .. _M.quote(email:upper()))
end

--- Whether the account or cost centre row is enabled.
---@param row table?
---@return boolean
function Client:enabled(row)
  return row ~= nil and tonumber(row[self.fields.enabled]) == _M.ENABLED
end

--- The sales invoice carrying `reference` (the Shopify order name), or nil: the check before every creation.
---@param reference string
---@return table?
function Client:invoice_by_reference(reference)
  return self:first("invoice", self.fields.invoice_reference .. " eq " .. _M.quote(reference))
end

--- The delivery carrying `reference` (the Shopify fulfillment id), or nil.
---@param reference string
---@return table?
function Client:delivery_by_reference(reference)
  return self:first("delivery", self.fields.delivery_reference .. " eq " .. _M.quote(reference))
end

--- Rows of `role` ("stock" or "movement") changed at or after `since` (ISO 8601; nil: all), oldest first.
---@param role string
---@param since string?
---@return fun(): table?
function Client:changed_since(role, since)
  local f = self.fields
  local key = role == "stock" and f.stock_key or "MVTNUM"
  return self:query(role, {
    where = since and (f.updated .. " ge @" .. since .. "@") or nil, order_by = f.updated .. " asc," .. key .. " asc",
  })
end

return _M
