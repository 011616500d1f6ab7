--- Shopify Admin GraphQL API client: orders changed since a cursor, inventory by SKU, locations, absolute stock
--- with compare-and-set, webhook subscriptions. Calls go through one `mlhost.http.system` per store, so every job
--- shares the calculated-cost budget; THROTTLED and 429 are waited out by the host. Failures raise
--- `system_error`s. Orders from GraphQL and from webhooks (REST-shaped) normalise to one `stdlib.Order`.
local mlhost = mlhost
local http, money = mlhost.http, mlhost.money
local system_error = require "system_error"
local paging = require "paging"
local ipairs, tostring, tonumber, type, setmetatable = ipairs, tostring, tonumber, type, setmetatable
local concat = table.concat

local _M = {}

---@class stdlib.OrderLine
---@field id string
---@field sku string
---@field name string
---@field quantity integer
---@field unit_price mlhost.Decimal
---@field tax mlhost.Decimal the line's tax, all tax lines together
---@field tax_rate mlhost.Decimal? the first tax line's rate (0.19)

---@class stdlib.Fulfillment
---@field id string
---@field created_at string
---@field tracking_number string?
---@field lines {line_id: string, quantity: integer}[]

---@class stdlib.Order
---@field id string numeric id, as the REST API and webhooks give it
---@field name string "#1001"
---@field email string?
---@field created_at string
---@field updated_at string
---@field cancelled boolean
---@field financial_status string PAID, PENDING, REFUNDED, VOIDED...
---@field fulfillment_status string FULFILLED, UNFULFILLED...
---@field currency string
---@field total mlhost.Decimal
---@field total_tax mlhost.Decimal
---@field customer {email: string?, first_name: string?, last_name: string?}
---@field lines stdlib.OrderLine[]
---@field fulfillments stdlib.Fulfillment[]

---@class shopify.Client
---@field system string
---@field page_size integer
---@field line_items integer
---@field idempotent boolean whether the API version has the `@idempotent` directive (2026-01 and later)
local Client = {}
Client.__index = Client

--- A client for one store. `settings`: `shop_url` (https://{shop}.myshopify.com), `api_version` (default
--- 2025-01), `credential` (Shopify token, or OAuth client credentials with `token_header`), `page_size` (orders per
--- page, ≤ 250, default 30), `line_items` (lines fetched per order, default 20), and `timeout`, `max_concurrent`,
--- `retries`, `bucket_size`/`restore_rate` (the plan's cost bucket; learnt from responses anyway).
---@param settings table
---@return shopify.Client
function _M.client(settings)
  local page_size = settings.page_size or 30
  if page_size < 1 or page_size > 250 then error("shopify: page_size must be 1 to 250 (Shopify's limit)", 2) end
  local line_items = settings.line_items or 20
  if page_size * (2 + line_items) + 1 > 1000 then
    error("shopify: page_size × (line_items + 2) must stay under Shopify's 1000-point query limit", 2)
  end
  local system = http.system {
    name = settings.name or "shopify",
    base_url = settings.shop_url .. "/admin/api/" .. (settings.api_version or "2025-01"),
    credential = settings.credential, timeout = settings.timeout, max_concurrent = settings.max_concurrent,
    retries = settings.retries,
    cost_bucket = { size = settings.bucket_size or 2000, restore = settings.restore_rate or 100 },
  }
  -- 2026-01 added `@idempotent(key:)` to the inventory mutations and 2026-04 made it mandatory; versions are
  -- YYYY-MM (or "unstable"), so they order as text.
  local version = settings.api_version or "2025-01"
  return setmetatable({
    system = system, page_size = page_size, line_items = line_items, idempotent = version >= "2026-01",
  }, Client)
end

local function describe(res)
  local body = res.json
  if type(body) == "table" and body.errors then
    if type(body.errors) == "string" then return body.errors end
    if type(body.errors) == "table" and body.errors[1] then return body.errors[1].message end
  end
  return nil
end

--- Runs one GraphQL document; returns `data`, or nil and true for a mutation the host journaled in a dry run.
--- GraphQL errors (other than throttling, which the host waits out) raise with their messages.
---@param query string
---@param variables table?
---@param cost number? the expected query cost, for the shared budget
---@param safe boolean? a mutation the host may repeat after an ambiguous failure (it carries an idempotency key)
---@return table? data
---@return boolean? dry_run
function Client:graphql(query, variables, cost, safe)
  local body = { query = query, variables = variables or mlhost.json.object() }
  local res, token, detail = http.request {
    system = self.system, method = "POST", path = "/graphql.json", json = body, decimals = true, cost = cost,
    safe = safe,
  }
  system_error.check("shopify", "GraphQL", res, token, detail, describe)
  if res.dry_run then return nil, true end
  local answer = res.json
  if type(answer) ~= "table" then
    system_error.raise({
      kind = "api", system = "shopify", retryable = true, message = "shopify: GraphQL answered no JSON",
    })
  end
  if answer.errors then
    local messages = {}
    for _, e in ipairs(answer.errors) do messages[#messages + 1] = e.message end
    system_error.raise({
      kind = res.throttled and "throttled" or "api", system = "shopify", retryable = res.throttled or false,
      retry_after = res.retry_after, message = "shopify: " .. concat(messages, "; "),
    })
  end
  return answer.data
end

local function decimal(money_set)
  return money.new(money_set and money_set.shopMoney and money_set.shopMoney.amount or "0")
end

local function numeric_id(gid)
  return gid and tostring(gid):match("(%d+)$") or nil
end

--- A GraphQL order node as a `stdlib.Order`.
---@param node table
---@return stdlib.Order
function _M.normalize_order(node)
  local lines = {}
  for i, edge in ipairs(node.lineItems and node.lineItems.edges or {}) do
    local l, tax = edge.node, money.new("0")
    for _, t in ipairs(l.taxLines or {}) do tax = tax + decimal(t.priceSet) end
    lines[i] = {
      id = numeric_id(l.id), sku = l.sku or "", name = l.name, quantity = l.quantity,
      unit_price = decimal(l.originalUnitPriceSet), tax = tax,
      tax_rate = l.taxLines and l.taxLines[1] and money.new(l.taxLines[1].rate) or nil,
    }
  end
  local fulfillments = {}
  for i, f in ipairs(node.fulfillments or {}) do
    local fl = {}
    for j, e in ipairs(f.fulfillmentLineItems and f.fulfillmentLineItems.edges or {}) do
      fl[j] = { line_id = numeric_id(e.node.lineItem.id), quantity = e.node.quantity }
    end
    fulfillments[i] = {
      id = numeric_id(f.id), created_at = f.createdAt, lines = fl,
      tracking_number = f.trackingInfo and f.trackingInfo[1] and f.trackingInfo[1].number or nil,
    }
  end
  local customer = node.customer or {}
  return {
    id = node.legacyResourceId or numeric_id(node.id), name = node.name, email = node.email or customer.email,
    created_at = node.createdAt, updated_at = node.updatedAt, cancelled = node.cancelledAt ~= nil
      and node.cancelledAt ~= mlhost.json.null,
    financial_status = node.displayFinancialStatus, fulfillment_status = node.displayFulfillmentStatus,
    currency = node.currencyCode, total = decimal(node.totalPriceSet), total_tax = decimal(node.totalTaxSet),
    customer = { email = customer.email, first_name = customer.firstName, last_name = customer.lastName },
    lines = lines, fulfillments = fulfillments,
  }
end

local function present(v) return v ~= nil and v ~= mlhost.json.null end

--- A webhook's REST order (snake_case, numeric ids, amounts as strings) as a `stdlib.Order`.
---@param o table
---@return stdlib.Order
function _M.normalize_webhook_order(o)
  local lines = {}
  for i, l in ipairs(o.line_items or {}) do
    local tax = money.new("0")
    for _, t in ipairs(l.tax_lines or {}) do tax = tax + money.new(t.price) end
    lines[i] = {
      id = tostring(l.id), sku = present(l.sku) and l.sku or "", name = l.name, quantity = l.quantity,
      unit_price = money.new(l.price), tax = tax,
      tax_rate = l.tax_lines and l.tax_lines[1] and money.new(l.tax_lines[1].rate) or nil,
    }
  end
  local fulfillments = {}
  for i, f in ipairs(o.fulfillments or {}) do
    local fl = {}
    for j, x in ipairs(f.line_items or {}) do fl[j] = { line_id = tostring(x.id), quantity = x.quantity } end
    fulfillments[i] = {
      id = tostring(f.id), created_at = f.created_at, lines = fl,
      tracking_number = present(f.tracking_number) and f.tracking_number or nil,
    }
  end
  local customer = present(o.customer) and o.customer or {}
  return {
    id = tostring(o.id), name = o.name, email = present(o.email) and o.email or customer.email,
    created_at = o.created_at, updated_at = o.updated_at, cancelled = present(o.cancelled_at),
    financial_status = (o.financial_status or ""):upper(),
    fulfillment_status = present(o.fulfillment_status) and o.fulfillment_status:upper() or "UNFULFILLED",
    currency = o.currency, total = money.new(o.total_price), total_tax = money.new(o.total_tax or "0"),
    customer = { email = customer.email, first_name = customer.first_name, last_name = customer.last_name },
    lines = lines, fulfillments = fulfillments,
  }
end

local ORDERS = [[
query Orders($first: Int!, $after: String, $q: String!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $q) {
    edges { cursor node {
      id legacyResourceId name email createdAt updatedAt cancelledAt cancelReason
      displayFinancialStatus displayFulfillmentStatus currencyCode
      customer { id firstName lastName email }
      totalPriceSet { shopMoney { amount currencyCode } }
      totalTaxSet { shopMoney { amount currencyCode } }
      lineItems(first: %d) { edges { node {
        id sku name quantity
        originalUnitPriceSet { shopMoney { amount currencyCode } }
        taxLines { title rate priceSet { shopMoney { amount } } }
        variant { id inventoryItem { id } } } } }
      fulfillments { id status createdAt trackingInfo { company number url }
        fulfillmentLineItems(first: %d) { edges { node { lineItem { id } quantity } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}]]

--- Pages of orders updated at or after `since` (ISO 8601; nil: all), oldest change first. The `>=` keeps orders
--- that share the boundary second; a `paging.time_cursor` skips the ones already handled.
---@param since string?
---@return fun(): stdlib.Order[]?
function Client:order_pages(since)
  local query = ORDERS:format(self.line_items, self.line_items)
  local q = since and ("updated_at:>='" .. since .. "'") or ""
  local cost = self.page_size * (2 + self.line_items) + 1
  return paging.pages(function(after)
    local data = self:graphql(query, { first = self.page_size, after = after or mlhost.json.null, q = q }, cost)
    local orders = {}
    for i, edge in ipairs(data.orders.edges) do orders[i] = _M.normalize_order(edge.node) end
    local info = data.orders.pageInfo
    return orders, info.hasNextPage and info.endCursor or nil
  end, nil)
end

local ITEM_BY_SKU = [[
query Item($query: String!) {
  inventoryItems(first: 1, query: $query) { edges { node {
    id sku inventoryLevels(first: 20) { edges { node {
      location { id name } quantities(names: ["available"]) { name quantity } } } }
  } } }
}]]

--- The inventory item of `sku` with its available quantity by location id, or nil.
---@param sku string
---@return {id: string, sku: string, available: table<string, integer>}?
function Client:inventory_item(sku)
  local data = self:graphql(ITEM_BY_SKU, { query = "sku:'" .. sku:gsub("'", "\\'") .. "'" }, 64)
  local edge = data.inventoryItems.edges[1]
  if not edge then return nil end
  local available = {}
  for _, e in ipairs(edge.node.inventoryLevels.edges) do
    for _, q in ipairs(e.node.quantities) do
      if q.name == "available" then available[e.node.location.id] = tonumber(q.quantity) end
    end
  end
  return { id = edge.node.id, sku = edge.node.sku, available = available }
end

--- The store's locations: `{id, name}` in Shopify's order.
---@return {id: string, name: string}[]
function Client:locations()
  local data = self:graphql("query { locations(first: 50) { edges { node { id name } } } }", nil, 51)
  local out = {}
  for i, e in ipairs(data.locations.edges) do out[i] = { id = e.node.id, name = e.node.name } end
  return out
end

local SET_QUANTITIES = [[
mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input)%s {
    inventoryAdjustmentGroup { createdAt reason changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}]]

--- Sets the available quantity of an item at a location to `quantity` if it is still `compare` (Shopify's
--- compare-and-set): a stale `compare` raises `{kind = "stale"}` so the caller re-reads instead of overwriting a
--- sale. Safe to repeat after an ambiguous failure: a repeat finds the new quantity and fails as stale. On API
--- versions with `@idempotent` each call carries a fresh key, which the host's own retries of that request keep:
--- Shopify answers such a repeat with the first result. A new call is a new intent (its `compare` was read
--- anew), so it gets a new key: a key derived from the arguments would make a later change that happens to
--- repeat an earlier one (same quantities, say on a replay) answer with the old result and do nothing.
---@param item_id string
---@param location_id string
---@param quantity integer
---@param compare integer
---@param reference string? your document, as `referenceDocumentUri`
function Client:set_available(item_id, location_id, quantity, compare, reference)
  local directive = self.idempotent and (' @idempotent(key: "%s")'):format(mlhost.crypto.uuid()) or ""
  local data, dry_run = self:graphql(SET_QUANTITIES:format(directive), { input = {
    name = "available", reason = "correction", referenceDocumentUri = reference,
    quantities = {
      { inventoryItemId = item_id, locationId = location_id, quantity = quantity, compareQuantity = compare },
    },
  } }, 10, self.idempotent)
  if dry_run then return nil end
  local errors = data.inventorySetQuantities.userErrors
  if errors and #errors > 0 then
    local e = errors[1]
    local stale = e.code == "COMPARE_QUANTITY_STALE" or (e.message or ""):find("compare", 1, true) ~= nil
    system_error.raise({
      kind = stale and "stale" or "business", system = "shopify", retryable = stale,
      message = "shopify: inventorySetQuantities: " .. (e.message or "refused"),
    })
  end
  return data.inventorySetQuantities.inventoryAdjustmentGroup
end

--- Subscribes `uri` to `topic` ("orders/create"); Shopify answers the subscription's id.
---@param topic string
---@param uri string
---@return string id
function Client:subscribe_webhook(topic, uri)
  local data = self:graphql([[
mutation Sub($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id } userErrors { message } }
}]], { topic = topic:upper():gsub("/", "_"), sub = { uri = uri, format = "JSON" } }, 10)
  if not data then return "(dry run)" end
  local r = data.webhookSubscriptionCreate
  if r.userErrors and #r.userErrors > 0 then
    system_error.raise({ kind = "business", system = "shopify", retryable = false,
      message = "shopify: webhook subscription refused: " .. r.userErrors[1].message })
  end
  return r.webhookSubscription.id
end

return _M
