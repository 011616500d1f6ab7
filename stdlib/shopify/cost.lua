--- Shopify's calculated query cost (API facts §1.6), worked out from the document before it is sent: a scalar or
--- enum costs 0, an object (or a list of objects) 1 plus what is selected in it, a connection — a field with a
--- `first`/`last` argument — 2 plus `first` × the cost of one node, and a mutation 10. The single query ceiling is
--- 1000 points. The built-in sandbox prices queries by the same rule; Shopify's own figure comes back in
--- `extensions.cost.requestedQueryCost`, and `shopify/init.lua` learns from it where the two differ.
local tonumber, error, ipairs = tonumber, error, ipairs
local sub, find, byte = string.sub, string.find, string.byte

local _M = {}

--- The single query ceiling: a query that asks for more is refused with MAX_COST_EXCEEDED.
_M.MAX = 1000
--- What a mutation is charged.
_M.MUTATION = 10

--- Tokens of a GraphQL document: names, numbers, `$variables`, strings and single punctuation marks.
---@param text string
---@return string[]
local function tokens(text)
  local out, i, n = {}, 1, #text
  while i <= n do
    local c = sub(text, i, i)
    if find(c, "[%s,]") then
      i = i + 1
    elseif c == "#" then
      i = (find(text, "\n", i, true) or n) + 1
    elseif c == '"' then
      local j = i + 1
      while j <= n and byte(text, j) ~= 34 do j = j + (byte(text, j) == 92 and 2 or 1) end
      out[#out + 1] = sub(text, i, j)
      i = j + 1
    elseif find(c, "[_%a%d%-%$]") then
      local _, e = find(text, "^[%$%-]?[_%w%.]+", i)
      out[#out + 1] = sub(text, i, e)
      i = e + 1
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return out
end

---@class shopify.cost.Parser
---@field t string[]
---@field i integer
---@field variables table

local function peek(p) return p.t[p.i] end

local function take(p)
  local tok = p.t[p.i]
  if tok == nil then error("shopify.cost: the document ends too early", 0) end
  p.i = p.i + 1
  return tok
end

--- Skips one balanced value or group starting at the current token.
local function skip_group(p)
  local open = take(p)
  local close = ({ ["("] = ")", ["["] = "]", ["{"] = "}" })[open]
  if not close then return end
  local depth = 1
  while depth > 0 do
    local tok = take(p)
    if tok == open then depth = depth + 1 elseif tok == close then depth = depth - 1 end
  end
end

--- Arguments `(name: value …)`; answers the `first` or `last` count, resolving a `$variable`.
local function arguments(p)
  local count
  take(p)  -- (
  while peek(p) ~= ")" do
    local name = take(p)
    take(p)  -- :
    local value = peek(p)
    if value == "(" or value == "[" or value == "{" then
      skip_group(p)
    else
      take(p)
      if name == "first" or name == "last" then
        if sub(value, 1, 1) == "$" then
          count = tonumber(p.variables[sub(value, 2)])
        else
          count = tonumber(value)
        end
      end
    end
  end
  take(p)  -- )
  return count
end

local selection

--- One field: `alias: name(args) @directive(args) { selection }` as {name, count, children}.
local function field(p)
  local name = take(p)
  if peek(p) == ":" then
    take(p)
    name = take(p)
  end
  local count
  if peek(p) == "(" then count = arguments(p) end
  while peek(p) == "@" do
    take(p)
    take(p)
    if peek(p) == "(" then skip_group(p) end
  end
  local children
  if peek(p) == "{" then children = selection(p) end
  return { name = name, count = count, children = children }
end

selection = function(p)
  local fields = {}
  take(p)  -- {
  while peek(p) ~= "}" do
    if peek(p) == "." then error("shopify.cost: fragments are not priced", 0) end
    fields[#fields + 1] = field(p)
  end
  take(p)  -- }
  return fields
end

local cost_of

--- The cost of one node of a connection: what `edges { node { … } }` or `nodes { … }` selects, the node counting 1.
local function node_cost(children)
  local total = 0
  for _, f in ipairs(children) do
    if f.name == "nodes" and f.children then
      total = total + 1 + cost_of(f.children)
    elseif f.name == "edges" and f.children then
      for _, e in ipairs(f.children) do
        if e.name == "node" and e.children then total = total + 1 + cost_of(e.children) end
      end
    end
  end
  return total
end

---@param fields table[]
---@return integer
cost_of = function(fields)
  local total = 0
  for _, f in ipairs(fields) do
    if f.children then
      if f.count then
        total = total + 2 + f.count * node_cost(f.children)
      else
        total = total + 1 + cost_of(f.children)
      end
    end
  end
  return total
end

--- The points Shopify charges up front for `document` with `variables`.
---@param document string
---@param variables table?
---@return integer
function _M.requested(document, variables)
  local p = { t = tokens(document), i = 1, variables = variables or {} }
  local kind = peek(p)
  if kind == "mutation" then return _M.MUTATION end
  if kind == "query" then
    while peek(p) ~= "{" do
      if peek(p) == "(" then skip_group(p) else take(p) end
    end
  end
  return cost_of(selection(p))
end

--- The largest `first` (1 … `limit`) whose query stays under the ceiling: the cost is linear in it, so two
--- pricings give its base and its cost per node. Nil when even one node is too dear.
---@param price fun(first: integer): number the cost with that page size
---@param limit integer
---@return integer?
function _M.largest_first(price, limit)
  local base = price(0)
  local each = price(1) - base
  if base + each > _M.MAX then return nil end
  if each <= 0 then return limit end
  return math.max(1, math.min(limit, math.floor((_M.MAX - base) / each)))
end

return _M
