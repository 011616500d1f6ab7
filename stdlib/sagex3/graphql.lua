--- Sage X3's Xtrem GraphQL API for `sagex3.client` (`api = "graphql"`): `POST /xtrem/api` with the folder in
--- `x-xtrem-endpoint`, `package { node { query(first, after, filter, orderBy) } }` cursor paging, `read(_id)`,
--- `create(data)` and `update(data)` mutations. Rows are translated between X3 columns (what connectors use) and
--- the node's camelCase properties through `properties`; node names through `nodes`. Both vary by X3 release, so
--- both are settings (introspect with `{ __schema { queryType { fields { name } } } }`).
local mlhost = mlhost
local http, json = mlhost.http, mlhost.json
local system_error = require "sync.system_error"
local paging = require "sync.paging"
local sagex3 = require "sagex3"
local ipairs, pairs, tostring, type, setmetatable, next = ipairs, pairs, tostring, type, setmetatable, next
local concat, sort = table.concat, table.sort

local _M = {}

--- Node (package.node) and key property per role, and the columns a read selects: field names (`invoice_status`)
--- stand for the column the client's `fields` give them.
_M.NODES = {
  customer = {
    node = "x3MasterData.customer", id = "code",
    select = { "customer_code", "customer_name", "customer_email", "customer_currency" },
  },
  item = { node = "x3MasterData.product", id = "code", select = { "item_code", "ITMDES1", "item_class", "STU" } },
  account = { node = "x3Finance.account", id = "code", select = { "account_code", "DES", "enabled" } },
  cost_centre = { node = "x3Finance.costCentre", id = "code", select = { "cost_centre_code", "DES", "enabled" } },
  invoice = { node = "x3Sales.salesInvoice", id = "id", select = {
    "invoice_number", "invoice_type", "invoice_customer", "invoice_reference", "invoice_status", "invoice_date",
    "invoice_currency", "invoice_net", "invoice_gross",
  } },
  credit_note = { node = "x3Sales.salesInvoice", id = "id", select = {
    "invoice_number", "invoice_type", "invoice_customer", "invoice_origin", "invoice_reference", "invoice_date",
    "invoice_currency", "invoice_net", "invoice_gross",
  } },
  delivery = { node = "x3Sales.salesDelivery", id = "id", select = {
    "delivery_number", "delivery_customer", "invoice_reference", "delivery_reference", "delivery_invoice",
    "delivery_date",
  } },
  stock = {
    node = "x3Stock.stock", id = "stockId", select = { "stock_key", "item_code", "site", "quantity", "updated" },
  },
  movement = { node = "x3Stock.stockJournal", id = "id", select = {
    "movement_key", "item_code", "site", "quantity", "TRSTYP", "VCRNUM", "updated",
  } },
}

--- X3 column → GraphQL property; a column not listed keeps its own name.
_M.PROPERTIES = {
  BPCNAM = "companyName1", EMAIL = "email", CUR = "currency", BCGCOD = "customerCategory", CRY = "country",
  ITMREF = "product", ITMDES1 = "description1",
  TCLCOD = "productCategory", STU = "stockUnit", ACC = "account", CCE = "costCentre", DES = "description",
  ENAFLG = "isActive", SIVTYP = "invoiceType", BPCINV = "billToCustomer", CUSORDREF = "customerOrderReference",
  INVDAT = "invoiceDate", AMTNOT = "totalAmountExcludingTax", AMTATI = "totalAmountIncludingTax",
  ZSHOPSTA = "zShopStatus", SALFCY = "salesSite", SIHSID = "invoiceLines", SDHSDD = "deliveryLines",
  SIHORINUM = "originInvoice",
  CREDATTIM = "createDateTime", UPDDATTIM = "updateDateTime", QTY = "quantity", GROPRI = "grossPrice",
  AMTNOTLIN = "lineAmountExcludingTax",
  VATAMT = "taxAmount", VACITM = "taxLevel", BPCORD = "soldToCustomer", YSHOPFUL = "yShopFulfillment",
  SINVNUM = "salesInvoice", DLVDAT = "deliveryDate", STOFCY = "stockSite", QTYSTU = "quantityInStockUnit",
  TRSTYP = "transactionType", VCRNUM = "documentNumber",
}

---@class sagex3.Node
---@field package string
---@field node string
---@field select string the selection set of a read
---@field to_property table<string, string> column → property, its key column → its id property included
---@field to_column table<string, string> the reverse

---@class sagex3.GraphQL
---@field client sagex3.Client
---@field nodes table<string, sagex3.Node>
---@field properties table<string, string> column → property, for lines (no key of their own)
---@field columns table<string, string> property → column, for lines
local GraphQL = {}
GraphQL.__index = GraphQL

local NAME = "^[_%a][_%w]*$"

---@param client sagex3.Client
---@param settings table `nodes` (role → "package.node"), `properties` (column → property)
---@return sagex3.GraphQL
function _M.new(client, settings)
  local self = setmetatable({
    client = client, properties = sagex3.merged(_M.PROPERTIES, settings.properties),
  }, GraphQL)
  self.columns = {}
  for column, property in pairs(self.properties) do
    if not property:find(NAME) then
      error("sagex3: property '" .. property .. "' of " .. column .. " is not a name", 3)
    end
    self.columns[property] = column
  end
  self.nodes = {}
  for role, d in pairs(_M.NODES) do
    local path = settings.nodes and settings.nodes[role] or d.node
    local package, node = path:match("^([_%a][_%w]*)%.([_%a][_%w]*)$")
    if not package then error("sagex3: node '" .. path .. "' for " .. role .. " is not package.node", 3) end
    local key = client.fields[sagex3.KEYS[role]]
    local to_property = sagex3.merged(self.properties, { [key] = d.id })
    local to_column = sagex3.merged(self.columns, { [d.id] = key })
    local names = {}
    for i, s in ipairs(d.select) do
      local column = client.fields[s] or s
      names[i] = to_property[column] or column
    end
    self.nodes[role] = {
      package = package, node = node, select = concat(names, " "), to_property = to_property, to_column = to_column,
    }
  end
  return self
end

--- A GraphQL literal: strings quoted as JSON quotes them, integers and exact decimals as numbers, tables as
--- lists or input objects (keys in a stable order). A binary float is refused: money travels as decimals.
---@param value any
---@return string
function _M.literal(value)
  local t = type(value)
  if t == "string" then return json.encode(value) end
  if t == "boolean" then return tostring(value) end
  if t == "number" then
    if math.type(value) ~= "integer" then error("sagex3: a float cannot be sent to X3; use mlhost.money", 3) end
    return tostring(value)
  end
  if t == "userdata" then return tostring(value) end  -- an mlhost.money decimal
  if t ~= "table" then error("sagex3: cannot send a " .. t .. " to X3", 3) end
  if value[1] ~= nil or next(value) == nil then
    local items = {}
    for i, v in ipairs(value) do items[i] = _M.literal(v) end
    return "[" .. concat(items, ", ") .. "]"
  end
  local keys = {}
  for k in pairs(value) do keys[#keys + 1] = k end
  sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do
    if type(k) ~= "string" or not k:find(NAME) then
      error("sagex3: '" .. tostring(k) .. "' is not a property name", 3)
    end
    parts[i] = k .. ": " .. _M.literal(value[k])
  end
  return "{" .. concat(parts, ", ") .. "}"
end

--- A string constant inside an Xtrem filter: single quotes, quote and backslash escaped.
local function constant(value)
  if math.type(value) == "integer" then return tostring(value) end
  return "'" .. tostring(value):gsub("[\\']", "\\%0") .. "'"
end

local FILTER_OPS = { eq = "_eq", ne = "_ne", gt = "_gt", ge = "_gte", lt = "_lt", le = "_lte" }

--- The Xtrem `filter` string of conditions (ANDed); a case-insensitive equality is an anchored `_regex`.
---@param where sagex3.Condition[]
---@param node table
---@return string?
function GraphQL:filter(where, node)
  local parts = {}
  for i, c in ipairs(where) do
    local op = FILTER_OPS[c.op] or error("sagex3: unknown operator '" .. tostring(c.op) .. "'", 3)
    local property = node.to_property[c.field] or c.field
    local test
    if c.ci and c.op == "eq" then
      test = "{_regex: " .. constant("^" .. tostring(c.value):gsub("[%^%$%(%)%%%.%[%]%*%+%-%?%{%}|\\]", "\\%0") .. "$")
        .. ", _options: 'i'}"
    else
      test = "{" .. op .. ": " .. constant(c.value) .. "}"
    end
    parts[i] = property .. ": " .. test
  end
  return #parts > 0 and ("{" .. concat(parts, ", ") .. "}") or nil
end

--- `values` with its names translated through `names` (a name not there is kept), and its lines' names through
--- `line_names`: X3 rows to node properties and back.
local function renamed(values, names, line_names)
  local out = {}
  for name, v in pairs(values) do
    if type(v) == "table" and v[1] ~= nil then
      local lines = {}
      for i, line in ipairs(v) do lines[i] = renamed(line, line_names, line_names) end
      v = lines
    end
    out[names[name] or name] = v
  end
  return out
end

--- An X3 row from a node's values.
function GraphQL:row(node, values)
  return renamed(values, node.to_column, self.columns)
end

--- A node's `create` / `update` data from X3 columns.
function GraphQL:data(node, body)
  return renamed(body, node.to_property, self.properties)
end

--- One GraphQL request: `data` on success, nothing for a mutation the host journaled in a dry run; X3's refusal of a
--- mutation is a business error (the record is parked), any other `errors` entry is an API error that names what
--- X3 said.
-- A 400 is X3 refusing the document itself (a node or property this installation does not have): a person must
-- fix the settings, so the record is parked.
local INVALID = { [400] = true }

local function call(self, what, document, variables, mutation, safe)
  local res, token, detail = http.request {
    system = self.client.system, method = "POST", path = "/xtrem/api", decimals = true, safe = safe,
    headers = { ["x-xtrem-endpoint"] = self.client.endpoint }, json = { query = document, variables = variables },
  }
  sagex3.check(what, res, token, detail, INVALID, mutation and not safe)
  if res.dry_run then return nil end
  local body = res.json
  if type(body) ~= "table" then
    system_error.raise({ kind = "api", system = "x3", status = res.status, retryable = false,
      message = "x3: " .. what .. ": the answer is not JSON" })
  end
  if type(body.errors) == "table" and body.errors[1] then
    if mutation then sagex3.refuse(what, res.status, sagex3.describe(body)) end
    system_error.raise({ kind = "api", system = "x3", status = res.status, retryable = false,
      message = "x3: " .. what .. ": " .. (sagex3.describe(body) or "GraphQL errors") })
  end
  return body.data
end

local function result(data, node, op)
  local package = data and data[node.package]
  local n = package and package[node.node]
  return n and n[op]
end

function GraphQL:rows(role, where, order, count)
  local node = self.nodes[role]
  local order_by = {}
  for i, o in ipairs(order) do
    order_by[i] = (node.to_property[o.column] or o.column) .. ": " .. (o.desc and "-1" or "1")
  end
  local document = "query($first: Int, $after: String, $filter: String, $orderBy: String) { " .. node.package
    .. " { " .. node.node .. " { query(first: $first, after: $after, filter: $filter, orderBy: $orderBy) "
    .. "{ edges { cursor node { " .. node.select .. " } } pageInfo { hasNextPage endCursor } } } } }"
  local filter = self:filter(where, node)
  local sorting = #order_by > 0 and ("{" .. concat(order_by, ", ") .. "}") or nil
  local what = "query " .. node.package .. "." .. node.node
  return paging.items(function(after)
    local page = result(call(self, what, document, {
      first = count, after = after, filter = filter, orderBy = sorting,
    }), node, "query") or {}
    local rows = {}
    for i, edge in ipairs(page.edges or {}) do rows[i] = self:row(node, edge.node) end
    local info = page.pageInfo or {}
    return rows, info.hasNextPage == true and info.endCursor or nil
  end, nil)
end

function GraphQL:read(role, key)
  local node = self.nodes[role]
  local document = "{ " .. node.package .. " { " .. node.node .. " { read(_id: " .. _M.literal(tostring(key))
    .. ") { " .. node.select .. " } } } }"
  local found = result(call(self, "read " .. node.node .. " " .. key, document), node, "read")
  return type(found) == "table" and self:row(node, found) or nil
end

-- An update sets values, so repeating it after an ambiguous failure is harmless; a create is not repeated.
local function mutate(self, role, op, data, body)
  local node = self.nodes[role]
  local document = "mutation { " .. node.package .. " { " .. node.node .. " { " .. op .. "(data: " .. _M.literal(data)
    .. ") { " .. node.select .. " } } } }"
  local answer = call(self, op .. " " .. node.node, document, nil, true, op == "update")
  if answer == nil then return sagex3.planned(self.client, role, body, data._id) end
  local done = result(answer, node, op)
  if type(done) ~= "table" then
    system_error.raise({ kind = "api", system = "x3", retryable = false,
      message = "x3: " .. op .. " " .. node.node .. " answered no " .. node.node })
  end
  return self:row(node, done)
end

function GraphQL:create(role, body)
  return mutate(self, role, "create", self:data(self.nodes[role], body), body)
end

function GraphQL:update(role, key, body)
  local data = self:data(self.nodes[role], body)
  data._id = tostring(key)
  return mutate(self, role, "update", data, body)
end

return _M
