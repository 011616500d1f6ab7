--- Mapping tables (SKU → X3 item, product class → GL account, site → cost centre), from settings or CSV,
--- validated when the connector loads so a bad table stops the load, not a posting at 3 a.m.
local pairs, type, tostring, error = pairs, type, tostring, error

local _M = {}

---@class stdlib.Mapping
---@field name string
---@field entries table<string, string>
local Mapping = {}
Mapping.__index = Mapping

--- Wraps `entries` (a `map` setting) as a mapping named `name`. `opts.pattern`: every value must match it;
--- `opts.required`: keys that must be present. Violations raise at load, naming the table and the key.
---@param name string
---@param entries table<string, string>?
---@param opts {pattern: string?, required: string[]?}?
---@return stdlib.Mapping
function _M.new(name, entries, opts)
  entries = entries or {}
  local problems = {}
  for k, v in pairs(entries) do
    if type(v) ~= "string" or v == "" then
      problems[#problems + 1] = tostring(k) .. " has no value"
    elseif opts and opts.pattern and not v:match(opts.pattern) then
      problems[#problems + 1] = tostring(k) .. " = " .. v .. " does not look like " .. opts.pattern
    end
  end
  for _, k in ipairs(opts and opts.required or {}) do
    if entries[k] == nil then problems[#problems + 1] = "no entry for " .. k end
  end
  if #problems > 0 then
    table.sort(problems)
    error("mapping " .. name .. ": " .. table.concat(problems, "; "), 2)
  end
  return setmetatable({ name = name, entries = entries }, Mapping)
end

--- The mapped value, or `default` (which may be nil).
---@param key string
---@param default string?
---@return string?
function Mapping:get(key, default)
  local v = self.entries[tostring(key)]
  if v == nil then return default end
  return v
end

--- The key mapped to `value` (first found), for the way back (X3 item → SKU).
---@param value string
---@return string?
function Mapping:key_of(value)
  for k, v in pairs(self.entries) do
    if v == value then return k end
  end
  return nil
end

--- Every distinct value: what must exist in the target system.
---@return string[]
function Mapping:values()
  local seen, out = {}, {}
  for _, v in pairs(self.entries) do
    if not seen[v] then seen[v], out[#out + 1] = true, v end
  end
  table.sort(out)
  return out
end

return _M
