--- OData query text for the Sage 300 Web API (API facts §5.3): literals as Sage 300 reads them (strings in single
--- quotes with a quote doubled, decimals with the `m` suffix, `datetime'…'` for dates), `$filter` expressions built
--- from conditions, and the other query options (`$select`, `$orderby`, `$top`, `$skip`, `$count`), each given at
--- most once.
local mlhost = mlhost
local money = mlhost.money
local ipairs, tostring, type, error = ipairs, tostring, type, error
local concat = table.concat

local _M = {}

--- A string literal: single quotes, a quote inside doubled (`O'Brien` → `'O''Brien'`).
---@param value string
---@return string
function _M.string(value)
  return "'" .. tostring(value):gsub("'", "''") .. "'"
end

--- A decimal literal: the exact digits with the `m` suffix (`99.99m`); never a binary float.
---@param value mlhost.Decimal|string|integer
---@return string
function _M.decimal(value)
  return money.format(money.new(value)) .. "m"
end

--- A date-time literal, `datetime'2025-01-31T00:00:00'`, from a date (`2025-01-31`) or an ISO 8601 timestamp (its
--- zone dropped: Sage 300 keeps local dates without one).
---@param value string
---@return string
function _M.datetime(value)
  local text = tostring(value)
  local day, clock = text:match("^(%d%d%d%d%-%d%d%-%d%d)[T ]?(%d?%d?:?%d?%d?:?%d?%d?)")
  if not day then error("sage300: '" .. text .. "' is not a date (YYYY-MM-DD or ISO 8601)", 2) end
  if clock == "" then clock = "00:00:00" elseif #clock == 5 then clock = clock .. ":00" end
  if not clock:match("^%d%d:%d%d:%d%d$") then error("sage300: '" .. text .. "' has no valid time of day", 2) end
  return "datetime'" .. day .. "T" .. clock .. "'"
end

--- The literal of a Lua value: a decimal (`mlhost.money`) with `m`, an integer bare, a boolean as `true`/`false`,
--- `{datetime = "…"}` as a date-time, a string quoted.
---@param value any
---@return string
function _M.literal(value)
  if money.is_decimal(value) then return _M.decimal(value) end
  local t = type(value)
  if t == "table" and value.datetime then return _M.datetime(value.datetime) end
  if t == "table" and value.decimal then return _M.decimal(value.decimal) end
  if math.type(value) == "integer" then return tostring(value) end
  if t == "boolean" then return tostring(value) end
  if t == "string" then return _M.string(value) end
  error("sage300: no OData literal for a " .. (math.type(value) or t) .. " (use an integer, a decimal, a string or "
    .. "{datetime = …}; a float is never sent)", 2)
end

local OPS = { eq = true, ne = true, gt = true, ge = true, lt = true, le = true }
local FUNCTIONS = { startswith = true, endswith = true, substringof = true }

---@class sage300.Condition
---@field field string a property name (`Email`, `Invoices/any(i: i/DocumentNumber …)` is built by `any`)
---@field op string "eq", "ne", "gt", "ge", "lt", "le", "startswith", "endswith" or "substringof"
---@field value any see `literal`

local FIELD = "^[%a_][%w_/]*$"

--- One condition as filter text.
---@param c sage300.Condition
---@return string
function _M.condition(c)
  if type(c.field) ~= "string" or not c.field:match(FIELD) then
    error("sage300: '" .. tostring(c.field) .. "' is not a property name", 2)
  end
  if OPS[c.op] then return c.field .. " " .. c.op .. " " .. _M.literal(c.value) end
  if c.op == "substringof" then return "substringof(" .. _M.literal(c.value) .. "," .. c.field .. ")" end
  if FUNCTIONS[c.op] then return c.op .. "(" .. c.field .. "," .. _M.literal(c.value) .. ")" end
  error("sage300: unknown operator '" .. tostring(c.op) .. "'", 2)
end

--- Conditions joined with `and` (or with `or` when `any_of`); a nested list is a parenthesised group of the other
--- kind, so `{a, {b, c}}` is `a and (b or c)`.
---@param conditions (sage300.Condition|table)[]
---@param any_of boolean?
---@return string?
function _M.filter(conditions, any_of)
  local parts = {}
  for _, c in ipairs(conditions or {}) do
    if c.field then
      parts[#parts + 1] = _M.condition(c)
    elseif c.raw then
      parts[#parts + 1] = c.raw
    else
      local inner = _M.filter(c, not any_of)
      if inner then parts[#parts + 1] = "(" .. inner .. ")" end
    end
  end
  if #parts == 0 then return nil end
  return concat(parts, any_of and " or " or " and ")
end

--- A lambda over a collection of details: `Invoices/any(i: i/DocumentNumber eq '42')`, as `{raw = …}` for `filter`.
---@param collection string
---@param conditions sage300.Condition[]
---@return {raw: string}
function _M.any(collection, conditions)
  if not collection:match(FIELD) then error("sage300: '" .. tostring(collection) .. "' is not a collection", 2) end
  local inner = {}
  for i, c in ipairs(conditions) do
    inner[i] = { field = "d/" .. c.field, op = c.op, value = c.value }
  end
  return { raw = collection .. "/any(d: " .. _M.filter(inner) .. ")" }
end

---@class sage300.QueryOptions
---@field filter (sage300.Condition|table)[]|string?
---@field select string[]?
---@field orderby (string|{[1]: string, desc: boolean?})[]?
---@field top integer?
---@field skip integer?
---@field count boolean?

--- The query table of a request (`$filter`, `$select`, `$orderby`, `$top`, `$skip`, `$count`), each once.
---@param opts sage300.QueryOptions
---@return table<string, string>
function _M.query(opts)
  local q = {}
  local filter = opts.filter
  if type(filter) == "table" then filter = _M.filter(filter) end
  if filter then q["$filter"] = filter end
  if opts.select and #opts.select > 0 then
    for _, name in ipairs(opts.select) do
      if not tostring(name):match(FIELD) then error("sage300: $select: '" .. tostring(name) .. "' is not a name", 2) end
    end
    q["$select"] = concat(opts.select, ",")
  end
  if opts.orderby and #opts.orderby > 0 then
    local keys = {}
    for i, o in ipairs(opts.orderby) do
      local name, desc = o, false
      if type(o) == "table" then name, desc = o[1], o.desc == true end
      if not tostring(name):match(FIELD) then
        error("sage300: $orderby: '" .. tostring(name) .. "' is not a name", 2)
      end
      keys[i] = name .. (desc and " desc" or " asc")
    end
    q["$orderby"] = concat(keys, ",")
  end
  for _, k in ipairs({ "top", "skip" }) do
    local v = opts[k]
    if v ~= nil then
      if math.type(v) ~= "integer" or v < 0 then error("sage300: $" .. k .. " must be a whole number ≥ 0", 2) end
      q["$" .. k] = tostring(v)
    end
  end
  if opts.count then q["$count"] = "true" end
  return q
end

return _M
