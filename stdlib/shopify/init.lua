--- Shopify Admin GraphQL API client: orders changed since a cursor, inventory by SKU, locations, absolute stock
--- with compare-and-set, webhook subscriptions. Calls go through one `mlhost.http.system` per store, so every job
--- shares the calculated-cost budget; THROTTLED and 429 are waited out by the host. Failures raise
--- `system_error`s. Orders from GraphQL and from webhooks (REST-shaped) normalise to one `stdlib.Order`.
local mlhost = mlhost
local http, money = mlhost.http, mlhost.money
local system_error = require "sync.system_error"
local paging = require "sync.paging"
local shopify_cost = require "shopify.cost"
local ipairs, tostring, tonumber, type, setmetatable = ipairs, tostring, tonumber, type, setmetatable
local concat, sort, max, ceil, floor = table.concat, table.sort, math.max, math.ceil, math.floor

local _M = {}

---@class stdlib.OrderLine
---@field id string
---@field sku string
---@field name string
---@field quantity integer
---@field unit_price mlhost.Decimal
---@field tax mlhost.Decimal the line's tax, all tax lines together
---@field tax_rate mlhost.Decimal? the rates of all its tax lines together (0.0825 for 6.25 % + 2 %)
---@field tax_lines stdlib.TaxLine[]

---@class stdlib.TaxLine
---@field title string?
---@field rate mlhost.Decimal
---@field amount mlhost.Decimal

---@class stdlib.ShippingLine
---@field title string
---@field price mlhost.Decimal before tax
---@field tax mlhost.Decimal all its tax lines together
---@field tax_rate mlhost.Decimal? the rates of its tax lines together
---@field tax_lines stdlib.TaxLine[]

---@class stdlib.Address
---@field first_name string?
---@field last_name string?
---@field company string?
---@field address1 string?
---@field city string?
---@field zip string?
---@field country_code string?

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
---@field shipping stdlib.ShippingLine[]
---@field billing stdlib.Address?
---@field fulfillments stdlib.Fulfillment[]

---@class stdlib.RefundLine
---@field line_id string the order line refunded
---@field sku string
---@field quantity integer
---@field net mlhost.Decimal the refunded subtotal, before tax
---@field tax mlhost.Decimal

---@class stdlib.Refund
---@field id string numeric id
---@field created_at string
---@field total mlhost.Decimal all that was refunded, tax included
---@field lines stdlib.RefundLine[]
---@field shipping {net: mlhost.Decimal, tax: mlhost.Decimal} the shipping refunded

---@class shopify.Client
---@field system string
---@field page_size integer the most orders a page may hold; the cost ceiling may allow fewer
---@field line_items integer
---@field shipping_lines integer
---@field idempotent boolean whether the API version has the `@idempotent` directive (2026-01 and later)
---@field webhook_address string `callbackUrl` or `uri`: what this API version's WebhookSubscriptionInput takes
---@field learned table<string, number> per document: Shopify's requested cost ÷ ours, from its answers
local Client = {}
Client.__index = Client

--- A client for one store. `settings`: `shop_url` (https://{shop}.myshopify.com), `api_version` (default
--- 2025-01), `credential` (Shopify token, or OAuth client credentials with `token_header`), `page_size` (the most
--- orders per page, ≤ 250, default 50: fewer when the query would cost more than Shopify's 1000-point ceiling),
--- `line_items` (lines fetched per order, default 15), `shipping_lines` (default 5), `webhook_uri_since` (the first
--- API version whose webhook subscriptions take `uri` instead of `callbackUrl`, default 2025-04), and `timeout`,
--- `max_concurrent`, `retries`, `bucket_size`/`restore_rate` (the plan's cost bucket; learnt from answers anyway).
---@param settings table
---@return shopify.Client
function _M.client(settings)
  local page_size = settings.page_size or 50
  if page_size < 1 or page_size > 250 then error("shopify: page_size must be 1 to 250 (Shopify's limit)", 2) end
  local line_items = settings.line_items or 15
  local shipping_lines = settings.shipping_lines or 5
  if line_items < 1 or line_items > 250 or shipping_lines < 1 or shipping_lines > 250 then
    error("shopify: line_items and shipping_lines must be 1 to 250", 2)
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
  local self = setmetatable({
    system = system, page_size = page_size, line_items = line_items, shipping_lines = shipping_lines,
    idempotent = version >= "2026-01", learned = {},
    webhook_address = version >= (settings.webhook_uri_since or "2025-04") and "uri" or "callbackUrl",
  }, Client)
  if not self:orders_per_page() then
    error("shopify: one order with " .. line_items .. " lines costs more than Shopify's 1000-point query limit;"
      .. " lower line_items", 2)
  end
  return self
end

local function describe(res)
  local body = res.json
  if type(body) == "table" and body.errors then
    if type(body.errors) == "string" then return body.errors end
    if type(body.errors) == "table" and body.errors[1] then return body.errors[1].message end
  end
  return nil
end

--- The points `query` will be charged, by Shopify's rule, corrected by what Shopify said of this document before.
---@param query string
---@param variables table?
---@return integer
function Client:price(query, variables)
  return ceil(shopify_cost.requested(query, variables) * (self.learned[query] or 1))
end

--- Learns from the answer's `extensions.cost` how Shopify priced `query`, for the next reservation and page size.
local function learn(self, query, estimate, answer)
  local cost = type(answer) == "table" and type(answer.extensions) == "table" and answer.extensions.cost
  local requested = type(cost) == "table" and tonumber(tostring(cost.requestedQueryCost)) or nil
  if requested and requested > 0 and estimate > 0 then self.learned[query] = requested / estimate end
  return requested
end

--- Runs one GraphQL document; returns `data`, or nil and true for a mutation the host journaled in a dry run.
--- The points reserved in the shared budget are the document's requested cost (Shopify charges it up front; the
--- refund of the unused part reaches the budget with the next `throttleStatus`). GraphQL errors (other than
--- throttling, which the host waits out) raise with their messages; a query over the cost ceiling raises
--- `{kind = "max_cost", requested = …}`.
---@param query string
---@param variables table?
---@param safe boolean? a mutation the host may repeat after an ambiguous failure (it carries an idempotency key)
---@return table? data
---@return boolean? dry_run
function Client:graphql(query, variables, safe)
  local estimate = shopify_cost.requested(query, variables)
  local body = { query = query, variables = variables or mlhost.json.object() }
  local res, token, detail = http.request {
    system = self.system, method = "POST", path = "/graphql.json", json = body, decimals = true,
    cost = ceil(estimate * (self.learned[query] or 1)), safe = safe,
  }
  system_error.check("shopify", "GraphQL", res, token, detail, describe)
  if res.dry_run then return nil, true end
  local answer = res.json
  if type(answer) ~= "table" then
    system_error.raise({
      kind = "api", system = "shopify", retryable = true, message = "shopify: GraphQL answered no JSON",
    })
  end
  local requested = learn(self, query, estimate, answer)
  if answer.errors then
    local messages, over = {}, nil
    for _, e in ipairs(answer.errors) do
      messages[#messages + 1] = e.message
      local ext = type(e.extensions) == "table" and e.extensions or {}
      if ext.code == "MAX_COST_EXCEEDED" then over = tonumber(tostring(ext.cost)) or requested or estimate end
    end
    if over then
      if not requested and estimate > 0 then self.learned[query] = over / estimate end
      system_error.raise({ kind = "max_cost", system = "shopify", retryable = false, requested = over,
        message = "shopify: " .. concat(messages, "; ") })
    end
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

--- Tax lines as `stdlib.TaxLine`s, with their amounts and rates added up; `amount` reads one line's amount.
---@param list table[]?
---@param amount fun(t: table): mlhost.Decimal
---@return stdlib.TaxLine[] lines
---@return mlhost.Decimal total
---@return mlhost.Decimal? rate nil when there is no tax line
local function tax_lines(list, amount)
  local out, total, rate = {}, money.new("0"), nil
  for i, t in ipairs(list or {}) do
    local r = money.new(t.rate or "0")
    out[i] = { title = t.title, rate = r, amount = amount(t) }
    total = total + out[i].amount
    rate = rate and rate + r or r
  end
  return out, total, rate
end

local function graphql_tax(t) return decimal(t.priceSet) end
local function rest_tax(t) return money.new(t.price or "0") end

local function present(v) return v ~= nil and v ~= mlhost.json.null end

--- An address from either shape (GraphQL camelCase, REST snake_case), or nil; a JSON null reads as nil.
local function address(a, rest)
  if not present(a) then return nil end
  local function field(graphql_name, rest_name)
    local v = a[rest and rest_name or graphql_name]
    return present(v) and v or nil
  end
  return {
    first_name = field("firstName", "first_name"), last_name = field("lastName", "last_name"),
    company = field("company", "company"), address1 = field("address1", "address1"), city = field("city", "city"),
    zip = field("zip", "zip"), country_code = field("countryCodeV2", "country_code"),
  }
end

--- A GraphQL order node as a `stdlib.Order`.
---@param node table
---@return stdlib.Order
function _M.normalize_order(node)
  local lines = {}
  for i, edge in ipairs(node.lineItems and node.lineItems.edges or {}) do
    local l = edge.node
    local taxes, tax, rate = tax_lines(l.taxLines, graphql_tax)
    lines[i] = {
      id = numeric_id(l.id), sku = present(l.sku) and l.sku or "", name = l.name, quantity = l.quantity,
      unit_price = decimal(l.originalUnitPriceSet), tax = tax, tax_rate = rate, tax_lines = taxes,
    }
  end
  local shipping = {}
  for i, edge in ipairs(node.shippingLines and node.shippingLines.edges or {}) do
    local l = edge.node
    local taxes, tax, rate = tax_lines(l.taxLines, graphql_tax)
    shipping[i] = {
      title = l.title, price = decimal(l.originalPriceSet), tax = tax, tax_rate = rate, tax_lines = taxes,
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
  local customer = present(node.customer) and node.customer or {}
  return {
    id = node.legacyResourceId or numeric_id(node.id), name = node.name, email = present(node.email) and node.email
      or customer.email,
    created_at = node.createdAt, updated_at = node.updatedAt, cancelled = present(node.cancelledAt),
    financial_status = node.displayFinancialStatus, fulfillment_status = node.displayFulfillmentStatus,
    currency = node.currencyCode, total = decimal(node.totalPriceSet), total_tax = decimal(node.totalTaxSet),
    customer = { email = customer.email, first_name = customer.firstName, last_name = customer.lastName },
    billing = address(node.billingAddress, false),
    lines = lines, shipping = shipping, fulfillments = fulfillments,
  }
end

--- A webhook's REST order (snake_case, numeric ids, amounts as strings) as a `stdlib.Order`.
---@param o table
---@return stdlib.Order
function _M.normalize_webhook_order(o)
  local lines = {}
  for i, l in ipairs(o.line_items or {}) do
    local taxes, tax, rate = tax_lines(l.tax_lines, rest_tax)
    lines[i] = {
      id = tostring(l.id), sku = present(l.sku) and l.sku or "", name = l.name, quantity = l.quantity,
      unit_price = money.new(l.price), tax = tax, tax_rate = rate, tax_lines = taxes,
    }
  end
  local shipping = {}
  for i, l in ipairs(o.shipping_lines or {}) do
    local taxes, tax, rate = tax_lines(l.tax_lines, rest_tax)
    shipping[i] = { title = l.title, price = money.new(l.price), tax = tax, tax_rate = rate, tax_lines = taxes }
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
    billing = address(o.billing_address, true),
    lines = lines, shipping = shipping, fulfillments = fulfillments,
  }
end

-- Only what the connector reads: every object selected is priced (1 point, a connection's nodes `first` times).
local ORDERS = [[
query Orders($first: Int!, $after: String, $q: String!) {
  orders(first: $first, after: $after, sortKey: UPDATED_AT, query: $q) {
    edges { cursor node {
      id legacyResourceId name email createdAt updatedAt cancelledAt
      displayFinancialStatus displayFulfillmentStatus currencyCode
      customer { firstName lastName email }
      billingAddress { firstName lastName company address1 city zip countryCodeV2 }
      totalPriceSet { shopMoney { amount } }
      totalTaxSet { shopMoney { amount } }
      lineItems(first: %d) { edges { node {
        id sku name quantity
        originalUnitPriceSet { shopMoney { amount } }
        taxLines { title rate priceSet { shopMoney { amount } } } } } }
      shippingLines(first: %d) { edges { node {
        title originalPriceSet { shopMoney { amount } }
        taxLines { title rate priceSet { shopMoney { amount } } } } } }
      fulfillments { id createdAt trackingInfo { number }
        fulfillmentLineItems(first: %d) { edges { node { lineItem { id } quantity } } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}]]

--- The orders query of this client (its line and shipping limits written in).
---@return string
function Client:orders_query()
  return ORDERS:format(self.line_items, self.shipping_lines, self.line_items)
end

--- How many orders one page may ask for: at most `page_size`, and no more than Shopify's ceiling allows for this
--- query as Shopify priced it last (or as its rule prices it). Nil when not even one order fits.
---@return integer?
function Client:orders_per_page()
  local query = self:orders_query()
  return shopify_cost.largest_first(function(first) return self:price(query, { first = first }) end, self.page_size)
end

--- Pages of orders updated at or after `since` (ISO 8601; nil: all), oldest change first. The `>=` keeps orders
--- that share the boundary second; a `paging.time_cursor` skips the ones already handled. Each page asks for as
--- many orders as stay under the cost ceiling; refused with MAX_COST_EXCEEDED all the same (Shopify priced it
--- higher than its rule says), the page is asked again smaller, in proportion to how far over it was.
---@param since string?
---@return fun(): stdlib.Order[]?
function Client:order_pages(since)
  local query = self:orders_query()
  local q = since and ("updated_at:>='" .. since .. "'") or ""
  return paging.pages(function(after)
    local first = self:orders_per_page() or 1
    local data
    while not data do
      local ok, result = pcall(self.graphql, self, query, { first = first, after = after or mlhost.json.null, q = q })
      if ok then
        data = result
      elseif system_error.is(result, "max_cost") and first > 1 then
        first = max(1, math.min(first - 1, floor(first * shopify_cost.MAX / result.requested)))
      else
        error(result, 0)
      end
    end
    local orders = {}
    for i, edge in ipairs(data.orders.edges) do orders[i] = _M.normalize_order(edge.node) end
    local info = data.orders.pageInfo
    return orders, info.hasNextPage and info.endCursor or nil
  end, nil)
end

-- Asked only for orders that have refunds: the orders page stays as the API facts list it, so a store whose API
-- refuses these fields fails one record's refunds, not every page.
local REFUNDS = [[
query Refunds($q: String!) {
  orders(first: 1, query: $q) { edges { node {
    id refunds { id createdAt totalRefundedSet { shopMoney { amount } }
      refundLineItems(first: %d) { edges { node {
        quantity lineItem { id sku } subtotalSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } } } }
      refundShippingLines(first: %d) { edges { node {
        subtotalAmountSet { shopMoney { amount } } taxAmountSet { shopMoney { amount } } } } }
    } } } }
}]]

--- The refunds of order `id` (numeric), oldest first: what each gave back, by line and for shipping.
---@param id string
---@return stdlib.Refund[]
function Client:order_refunds(id)
  if not tostring(id):match("^%d+$") then error("shopify: order_refunds takes a numeric order id", 2) end
  local data = self:graphql(REFUNDS:format(self.line_items, self.shipping_lines), { q = "id:" .. id })
  local edge = data and data.orders.edges[1]
  local out = {}
  for i, r in ipairs(edge and edge.node.refunds or {}) do
    local lines, shipping = {}, { net = money.new("0"), tax = money.new("0") }
    for j, e in ipairs(r.refundLineItems and r.refundLineItems.edges or {}) do
      local l = e.node
      lines[j] = {
        line_id = numeric_id(l.lineItem.id), sku = present(l.lineItem.sku) and l.lineItem.sku or "",
        quantity = l.quantity, net = decimal(l.subtotalSet), tax = decimal(l.totalTaxSet),
      }
    end
    for _, e in ipairs(r.refundShippingLines and r.refundShippingLines.edges or {}) do
      shipping.net = shipping.net + decimal(e.node.subtotalAmountSet)
      shipping.tax = shipping.tax + decimal(e.node.taxAmountSet)
    end
    out[i] = {
      id = numeric_id(r.id), created_at = r.createdAt, total = decimal(r.totalRefundedSet), lines = lines,
      shipping = shipping,
    }
  end
  sort(out, function(a, b) return a.created_at < b.created_at end)
  return out
end

-- `inventoryLevels(first:)` is priced per location asked for: it asks for as many as the store has.
local ITEM_BY_SKU = [[
query Item($query: String!, $levels: Int!) {
  inventoryItems(first: 1, query: $query) { edges { node {
    id sku inventoryLevels(first: $levels) { edges { node {
      location { id } quantities(names: ["available"]) { name quantity } } } }
  } } }
}]]

--- The inventory item of `sku` with its available quantity by location id, or nil. `locations`: how many
--- locations the store has (`#client:locations()`), so the query reserves no more points than it needs.
---@param sku string
---@param locations integer?
---@return {id: string, sku: string, available: table<string, integer>}?
function Client:inventory_item(sku, locations)
  local data = self:graphql(ITEM_BY_SKU, {
    query = "sku:'" .. sku:gsub("'", "\\'") .. "'", levels = math.min(250, max(1, locations or 50)),
  })
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
  local data = self:graphql("query { locations(first: 50) { edges { node { id name } } } }")
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
  } }, self.idempotent)
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

--- Subscribes `url` to `topic` ("orders/create"); Shopify answers the subscription's id. The address goes in
--- `callbackUrl` up to the API version where `uri` replaced it (`webhook_uri_since`), in `uri` from then on.
---@param topic string
---@param url string
---@return string id
function Client:subscribe_webhook(topic, url)
  local data = self:graphql([[
mutation Sub($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id } userErrors { message } }
}]], { topic = topic:upper():gsub("/", "_"), sub = { [self.webhook_address] = url, format = "JSON" } })
  if not data then return "(dry run)" end
  local r = data.webhookSubscriptionCreate
  if r.userErrors and #r.userErrors > 0 then
    system_error.raise({ kind = "business", system = "shopify", retryable = false,
      message = "shopify: webhook subscription refused: " .. r.userErrors[1].message })
  end
  return r.webhookSubscription.id
end

return _M
