--- Sage X3's Syracuse REST api1 for `sagex3.client` (`api = "rest"`): `/api1/x3/erp/{ENDPOINT}/{CLASS}` with
--- `representation=CLASS.$query` queries (`where`, `orderBy`, `count`, following `$links.$next`), `('KEY')`
--- details, `$create` POSTs and `$edit` PUTs; errors carry `$diagnoses`.
local mlhost = mlhost
local http = mlhost.http
local system_error = require "sync.system_error"
local paging = require "sync.paging"
local sagex3 = require "sagex3"
local ipairs, tostring, setmetatable = ipairs, tostring, setmetatable
local concat = table.concat

local _M = {}

---@class sagex3.Rest
---@field client sagex3.Client
---@field base string
---@field representations table<string, string> role → representation, where it is not the class's name
local Rest = {}
Rest.__index = Rest

---@param client sagex3.Client
---@param settings table `representations` (role → representation, default: the class)
---@return sagex3.Rest
function _M.new(client, settings)
  return setmetatable({
    client = client, base = "/api1/x3/erp/" .. client.endpoint .. "/",
    representations = settings.representations or {},
  }, Rest)
end

--- A string literal for `where`: single quotes, a quote doubled.
---@param value any
---@return string
function _M.quote(value) return "'" .. tostring(value):gsub("'", "''") .. "'" end

local OPS = { eq = "eq", ne = "ne", gt = "gt", ge = "ge", lt = "lt", le = "le" }

--- The `where` text of conditions (ANDed).
---@param where sagex3.Condition[]
---@return string?
function _M.where(where)
  local parts = {}
  for i, c in ipairs(where) do
    local op = OPS[c.op] or error("sagex3: unknown operator '" .. tostring(c.op) .. "'", 3)
    local field, value = c.field, _M.quote(c.value)
    if c.time then
      value = "@" .. tostring(c.value) .. "@"
    elseif math.type(c.value) == "integer" then
      value = tostring(c.value)
    end
    if c.ci then field, value = "upper(" .. field .. ")", _M.quote(tostring(c.value):upper()) end
    parts[i] = field .. " " .. op .. " " .. value
  end
  return #parts > 0 and concat(parts, " and ") or nil
end

-- Statuses that are X3 refusing the content when its diagnoses say so (405: an edit X3 does not allow, such as a
-- posted invoice); auth, not-found, timeouts and throttling are classified by `system_error.check`, 5xx by
-- `sagex3.check`.
local BUSINESS = { [400] = true, [405] = true, [409] = true, [412] = true, [422] = true }

local function call(self, what, options)
  options.system, options.decimals = self.client.system, true
  local res, token, detail = http.request(options)
  return sagex3.check(what, res, token, detail, BUSINESS, options.method == "POST")
end

--- The resource path, the class and the representation of `role`.
local function path(self, role, key)
  local class = self.client.classes[role]
  return self.base .. class .. (key and ("(" .. _M.quote(key) .. ")") or ""), class,
    self.representations[role] or class
end

function Rest:rows(role, where, order, count)
  local p, class, representation = path(self, role)
  local key = self.client.fields[sagex3.KEYS[role]]
  local order_by = {}
  local keyed = false
  for i, o in ipairs(order) do
    order_by[i] = o.column .. (o.desc and " desc" or " asc")
    keyed = keyed or o.column == key
  end
  if key and not keyed then order_by[#order_by + 1] = key .. " asc" end
  return paging.items(function(next_url)
    local res
    if next_url then
      res = call(self, "query " .. class, { url = next_url })
    else
      res = call(self, "query " .. class, { path = p, query = {
        representation = representation .. ".$query", where = _M.where(where), orderBy = concat(order_by, ","),
        count = count,
      } })
    end
    local body = res.json
    local links = body["$links"]
    return body["$resources"] or {}, links and links["$next"] and links["$next"]["$url"] or nil
  end, nil)
end

function Rest:read(role, key)
  local p, class, representation = path(self, role, key)
  local ok, res = pcall(call, self, "read " .. class .. " " .. key, {
    path = p, query = { representation = representation .. ".$details" },
  })
  if ok then return res.json end
  if system_error.is(res, "not_found") then return nil end
  error(res, 0)
end

function Rest:create(role, body)
  local p, class, representation = path(self, role)
  local res = call(self, "create " .. class, {
    method = "POST", path = p, query = { representation = representation .. ".$create" }, json = body,
  })
  return res.dry_run and sagex3.planned(self.client, role, body) or res.json
end

function Rest:update(role, key, body)
  local p, class, representation = path(self, role, key)
  local res = call(self, "update " .. class .. " " .. key, {
    method = "PUT", path = p, query = { representation = representation .. ".$edit" }, json = body,
  })
  return res.dry_run and sagex3.planned(self.client, role, body, key) or res.json
end

return _M
