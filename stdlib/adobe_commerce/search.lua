--- Magento `searchCriteria` (API facts §3.3) as a builder: filter groups are ANDed, the filters inside one group
--- ORed, each with a `condition_type`; sort orders; `pageSize` and `currentPage` (from 1). `query(page)` gives the
--- flat `searchCriteria[...]` parameters for `mlhost.http.request { query = … }`.
local ipairs, tostring, type, setmetatable, error = ipairs, tostring, type, setmetatable, error
local concat = table.concat

local _M = {}

--- The condition types Magento accepts.
_M.CONDITIONS = {
  eq = true, finset = true, from = true, to = true, gt = true, gteq = true, ["in"] = true, like = true, lt = true,
  lteq = true, moreq = true, neq = true, nfinset = true, nin = true, nlike = true, notnull = true, null = true,
}

---@class adobe_commerce.Filter
---@field field string
---@field condition string? a condition type (default "eq")
---@field value string|integer|string[]|nil a list for `in`/`nin` (joined with commas); none for `null`/`notnull`

---@class adobe_commerce.Criteria
---@field groups adobe_commerce.Filter[][]
---@field orders {field: string, direction: "ASC"|"DESC"}[]
---@field size integer?
local Criteria = {}
Criteria.__index = Criteria

--- An empty search (everything, Magento's default order).
---@return adobe_commerce.Criteria
function _M.new()
  return setmetatable({ groups = {}, orders = {} }, Criteria)
end

local function check(f, level)
  if type(f) ~= "table" or type(f.field) ~= "string" or f.field == "" then
    error("adobe_commerce.search: a filter needs a field", level)
  end
  local condition = f.condition or "eq"
  if not _M.CONDITIONS[condition] then
    error("adobe_commerce.search: '" .. tostring(condition) .. "' is not a Magento condition_type", level)
  end
  return { field = f.field, condition = condition, value = f.value }
end

--- ANDs one condition: `field condition value`.
---@param field string
---@param condition string
---@param value any
---@return adobe_commerce.Criteria self
function Criteria:where(field, condition, value)
  self.groups[#self.groups + 1] = { check({ field = field, condition = condition, value = value }, 3) }
  return self
end

--- ANDs a group of conditions of which any may hold (ORed).
---@param filters adobe_commerce.Filter[]
---@return adobe_commerce.Criteria self
function Criteria:any_of(filters)
  local group = {}
  for i, f in ipairs(filters) do group[i] = check(f, 3) end
  if #group == 0 then error("adobe_commerce.search: any_of needs at least one filter", 2) end
  self.groups[#self.groups + 1] = group
  return self
end

--- Sorts by `field` (then by the sorts added before it).
---@param field string
---@param direction "ASC"|"DESC"|nil default ASC
---@return adobe_commerce.Criteria self
function Criteria:sort(field, direction)
  direction = direction or "ASC"
  if direction ~= "ASC" and direction ~= "DESC" then error("adobe_commerce.search: direction is ASC or DESC", 2) end
  self.orders[#self.orders + 1] = { field = field, direction = direction }
  return self
end

--- Items per page.
---@param n integer
---@return adobe_commerce.Criteria self
function Criteria:page_size(n)
  if math.type(n) ~= "integer" or n < 1 then error("adobe_commerce.search: page_size must be a positive integer", 2) end
  self.size = n
  return self
end

local function text(v)
  if type(v) == "table" then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = tostring(x) end
    return concat(parts, ",")
  end
  return tostring(v)
end

--- The query parameters for page `page` (from 1).
---@param page integer?
---@return table<string, string>
function Criteria:query(page)
  local q = {}
  for g, group in ipairs(self.groups) do
    for f, filter in ipairs(group) do
      local prefix = "searchCriteria[filter_groups][" .. (g - 1) .. "][filters][" .. (f - 1) .. "]"
      q[prefix .. "[field]"] = filter.field
      q[prefix .. "[condition_type]"] = filter.condition
      if filter.value ~= nil then q[prefix .. "[value]"] = text(filter.value) end
    end
  end
  for i, o in ipairs(self.orders) do
    q["searchCriteria[sortOrders][" .. (i - 1) .. "][field]"] = o.field
    q["searchCriteria[sortOrders][" .. (i - 1) .. "][direction]"] = o.direction
  end
  if self.size then q["searchCriteria[pageSize]"] = tostring(self.size) end
  q["searchCriteria[currentPage]"] = tostring(page or 1)
  return q
end

return _M
