--- Sage X3 ↔ Shopify. Shopify orders become X3 sales invoices (customer found by email, GL accounts and cost
--- centres checked before posting, the allocation kept in the audit row); order status changes update the
--- invoice; Shopify fulfilments become X3 deliveries; X3 stock is pushed to Shopify's available quantities with
--- compare-and-set. Orders arrive by polling and by webhooks; both lead to the same record, keyed on the Shopify
--- order id, and every creation is preceded by a lookup of its reference in X3, so nothing is posted twice.
local shopify = require "shopify"
local sagex3 = require "sagex3"
local codes = require "sagex3.codes"
local mapping = require "sync.mapping"
local paging = require "sync.paging"
local reconcile = require "sync.reconcile"
local x3_invoices = require "sagex3.invoice"
local system_error = require "sync.system_error"

local log = mlhost.log
local ipairs, tostring, tonumber, pcall, error = ipairs, tostring, tonumber, pcall, error

local c = mlhost.connector {
  name = "x3_shopify",
  description = "Shopify orders → X3 sales invoices, credit notes and deliveries; X3 stock → Shopify",
  settings = require "x3_shopify.schema",
}
local s = c.settings

local shop = shopify.client(s.shopify)
local erp = sagex3.client(s.x3)
local F = erp.fields

local items = mapping.new("items", s.items)
local sales_accounts = mapping.new("sales_accounts", s.sales_accounts, { pattern = "^[%w%-_]+$" })
local tax_accounts = mapping.new("tax_accounts", s.tax_accounts, { pattern = "^[%w%-_]+$" })
local tax_levels = mapping.new("tax_levels", s.tax_levels, { pattern = "^[%w%-_]+$" })
local cost_centres = mapping.new("cost_centres", s.cost_centres, { required = { s.site } })
local locations = mapping.new("locations", s.locations)

-- Shopify's OrderDisplayFinancialStatus values (API facts §1.3), to catch a misspelt setting at load.
local FINANCIAL = {
  AUTHORIZED = true, EXPIRED = true, PAID = true, PARTIALLY_PAID = true, PARTIALLY_REFUNDED = true, PENDING = true,
  REFUNDED = true, VOIDED = true,
}
local INVOICING = {}
for _, status in ipairs(s.invoice_statuses) do
  if not FINANCIAL[status] then
    error("invoice_statuses: " .. tostring(status) .. " is not a Shopify financial status (PAID, PARTIALLY_PAID, "
      .. "PARTIALLY_REFUNDED, AUTHORIZED, PENDING, EXPIRED, REFUNDED, VOIDED)")
  end
  INVOICING[status] = true
end
-- After invoicing, these undo the sale: the invoice gets a credit note.
local REVERSED = { REFUNDED = true, VOIDED = true }
if s.create_customers and not s.customer_category then
  error("create_customers needs customer_category: the X3 customer category new customers get")
end

local STATUS = { paid = "PAID", pending = "PENDING", fulfilled = "FULFILLED", cancelled = "CANCELLED" }
for k, v in pairs(s.statuses or {}) do STATUS[k] = v end

---@param order stdlib.Order
---@return string
local function invoice_status(order)
  if order.cancelled then return STATUS.cancelled end
  if order.fulfillment_status == "FULFILLED" then return STATUS.fulfilled end
  if order.financial_status == "PAID" then return STATUS.paid end
  return STATUS.pending
end

local invoices = x3_invoices.builder(erp, {
  site = s.site, cost_centres = cost_centres, tax_levels = tax_levels, tax_accounts = tax_accounts,
  freight = s.freight, credit_note_type = s.credit_note_type, status = invoice_status,
  refund_reference_prefix = s.refund_reference_prefix,
  -- A line's item is its SKU through the items mapping; its sales account, the item's product class's.
  target = function(builder, line, reject)
    local code = items:get(line.sku, line.sku)
    local item, item_problem = builder:row("item", code)
    if not item then reject("unknown SKU " .. line.sku .. ": " .. item_problem) end
    local class = item[F.item_class]
    return code, sales_accounts:get(class) or reject("no GL sales account mapped for product class " .. tostring(class))
  end,
})

--- Each refund of `order` not credited yet becomes a credit note of `invoice` (the shared builder's
--- `credit_refunds`: one per refund, looked up by its reference first).
local function credit_refunds(order, invoice, reject)
  return invoices:credit_refunds(reject, order, invoice, shop:order_refunds(order.id))
end

-- An order only moves forward (pending → paid → fulfilled; cancelled ends it), so a webhook that arrives after a
-- later poll, carrying an older state, cannot move an invoice's status back.
local RANK = { [STATUS.pending] = 1, [STATUS.paid] = 2, [STATUS.fulfilled] = 3, [STATUS.cancelled] = 4 }

--- An order that is already invoiced: a cancellation or a full refund becomes a credit note linked to the
--- invoice (a posted invoice is never edited), each partial refund a credit note of its own; other changes update
--- the invoice's status field only where the installation allows it (`x3.invoice_status_updates`), and X3
--- refusing that is a rejection, not a retry.
---@param rec mlhost.Record
---@param order stdlib.Order
---@param invoice table the X3 invoice row
---@param reject fun(reason: string)
local function after_invoicing(rec, order, invoice, reject)
  local number = invoice[F.invoice_number]
  local credit = (order.cancelled or REVERSED[order.financial_status]) and invoices:credit_note_of(number)
  if order.financial_status == "PARTIALLY_REFUNDED" or (credit and invoices:credits_one_refund(credit)) then
    -- Refunds are credited one by one; once one is, the rest of the order's undoing is credited the same way.
    local made = credit_refunds(order, invoice, reject)
    if #made == 0 then return rec:unchanged("x3", number, { refunds = "credited" }) end
    return rec:updated("x3", number, { credit_notes = made })
  end
  if order.cancelled or REVERSED[order.financial_status] then
    if credit then return rec:unchanged("x3", number, { credit_note = credit[F.invoice_number] }) end
    local ok, problem = reconcile.order(order)
    if not ok then reject("totals do not reconcile: " .. problem) end
    local body = invoices:build(reject, order, invoice[F.invoice_customer],
      { type = s.credit_note_type, origin = number })
    local created = erp:create_unique("credit_note", body, function() return invoices:credit_note_of(number) end)
    return rec:updated("x3", number, {
      credit_note = created[F.invoice_number], reason = order.cancelled and "cancelled" or order.financial_status,
      total = order.total,
    })
  end
  local status = invoice_status(order)
  if not s.x3.invoice_status_updates then
    return rec:unchanged("x3", number, { status = status, kept = "posted invoices are not edited" })
  end
  local was = invoice[F.invoice_status]
  if (RANK[status] or 0) <= (RANK[was] or 0) then return rec:unchanged("x3", number) end
  erp:update("invoice", number, { [F.invoice_status] = status })
  return rec:updated("x3", number, { status = status, was = was })
end

--- An order invoiced just now may already have refunds (it was partially refunded before it reached X3).
---@return table[]?
local function credit_new_refunds(order, invoice, reject)
  if order.financial_status ~= "PARTIALLY_REFUNDED" then return nil end
  return credit_refunds(order, invoice, reject)
end

c:handler("shopify.order", function(rec, order)
  local function reject(reason) rec:reject("order " .. order.name .. ": " .. reason) end
  local mapped = rec:target_id("x3")
  local invoice = mapped and erp:read("invoice", mapped) or erp:invoice_by_reference(order.name)
  if invoice and not mapped and not (order.cancelled or REVERSED[order.financial_status]) then
    -- Found by its reference but never recorded: an earlier attempt created it (X3 answered 5xx after it
    -- committed, or the host stopped before recording it). It is this record's creation.
    return rec:created("x3", invoice[F.invoice_number], {
      found_by_reference = true, credit_notes = credit_new_refunds(order, invoice, reject),
    })
  end
  if invoice then return after_invoicing(rec, order, invoice, reject) end
  if order.cancelled then return rec:unchanged("x3", nil, { skipped = "cancelled before it was invoiced" }) end
  if not INVOICING[order.financial_status] then
    return rec:unchanged("x3", nil, { waiting = "financial status " .. tostring(order.financial_status)
      .. " does not invoice (invoice_statuses); the order is taken up again when it changes" })
  end
  local ok, problem, sums = reconcile.order(order)
  if not ok then reject("totals do not reconcile: " .. problem) end
  local email = order.email or reject("needs review: it has no email to find its X3 customer by")
  -- The Shopify order carries no customer id here: a new customer's code comes from the order that brought them.
  local code, code_problem = codes.customer(s.customer_codes, nil, order.id)
  local customer, new_customer = erp:customer_for(email, order.billing, s.create_customers and code ~= nil,
    { code = code, category = s.customer_category, currency = order.currency })
  if not customer and s.create_customers then reject("no X3 customer with email " .. email .. ": " .. code_problem) end
  if not customer then
    reject("needs review: no X3 customer with email " .. email .. "; create the customer in X3, then replay")
  end
  local body, allocation = invoices:build(reject, order, customer[F.customer_code],
    { type = s.invoice_type, reference = order.name })
  local created = erp:create_unique("invoice", body, function() return erp:invoice_by_reference(order.name) end)
  return rec:created("x3", created[F.invoice_number], {
    customer = customer[F.customer_code], new_customer = new_customer or nil, net = sums.net,
    shipping = sums.shipping, tax = sums.tax, total = order.total, gl = allocation,
    credit_notes = credit_new_refunds(order, created, reject),
  })
end)

c:handler("shopify.fulfillment", function(rec, input)
  local f = input.fulfillment
  local number = rec:target_id("x3")
  local function find() return erp:delivery_by_reference(f.id) end
  if not number then
    local existing = find()
    number = existing and existing[F.delivery_number]
  end
  if number then return rec:unchanged("x3", number) end
  local invoice = erp:invoice_by_reference(input.order)
  if not invoice then
    if input.order_failed then
      -- The order failed for a cause that passes (X3 unavailable): it is retried on its own, and so is this.
      error({ message = "order " .. input.order .. " has no X3 invoice yet; retried with it", retryable = true })
    end
    rec:reject("order " .. input.order .. " has no X3 invoice yet (see its record); replay once it is invoiced")
  end
  local lines = {}
  for i, fl in ipairs(f.lines) do
    local sku = input.skus[fl.line_id]
      or rec:reject("fulfilled line " .. fl.line_id .. " is not on order " .. input.order)
    lines[i] = { [F.line_item] = items:get(sku, sku), [F.line_quantity] = fl.quantity }
  end
  local delivery = erp:create_unique("delivery", {
    [F.delivery_customer] = invoice[F.invoice_customer], [F.invoice_reference] = input.order,
    [F.delivery_reference] = f.id, [F.delivery_invoice] = invoice[F.invoice_number],
    [F.delivery_date] = (f.created_at or ""):sub(1, 10), [F.delivery_site] = s.site, [F.delivery_lines] = lines,
  }, find)
  return rec:created("x3", delivery[F.delivery_number], {
    invoice = invoice[F.invoice_number], tracking = f.tracking_number,
  })
end)

-- Timestamps have whole seconds, so the cursor remembers what it handled at its last second by id *and* state:
-- a second change within the same second is a new entry, not a repeat.
local function order_version(order)
  return table.concat({ order.id, order.financial_status, order.fulfillment_status, tostring(order.cancelled) }, "/")
end

local function stock_version(row) return tostring(row[F.stock_key]) .. "/" .. tostring(row[F.quantity]) end

--- One order through both records, from the poll or from a webhook alike.
---@param job mlhost.Job
---@param order stdlib.Order
local function process(job, order)
  local outcome = job:record("shopify.order", order.id, order)
  if #order.fulfillments == 0 then return end
  local skus = {}
  for _, line in ipairs(order.lines) do skus[line.id] = line.sku end
  for _, f in ipairs(order.fulfillments) do
    job:record("shopify.fulfillment", f.id,
      { order = order.name, skus = skus, fulfillment = f, order_failed = outcome == "failed" or nil })
  end
end

c:every(s.poll_orders, "pull_orders", function(job)
  local cursor = paging.time_cursor(job, "orders", s.orders_since)
  local count = 0
  paging.pipeline(shop:order_pages(cursor.at), s.concurrency, function(order)
    if not cursor:seen(order.updated_at, order_version(order)) then
      process(job, order)
      count = count + 1
    end
  end, function(page)
    -- Only now, with every record of this page and the ones before committed, may the cursor pass it.
    for _, order in ipairs(page) do cursor:advance(order.updated_at, order_version(order)) end
    cursor:save()
  end)
  log.info("orders pulled from Shopify", { orders = count, cursor = cursor.at })
end)

-- Shopify location ids by name, and how many there are, asked once per version of the script.
local location_ids, location_count

---@param name string
---@return string?
local function location_id(name)
  if not location_ids then
    -- Filled before it is published: coroutines that ask meanwhile fetch too, rather than see it half-filled.
    local found, all = {}, shop:locations()
    for _, l in ipairs(all) do found[l.name] = l.id end
    location_ids, location_count = found, #all
  end
  return location_ids[name]
end

c:handler("x3.stock", function(rec, row)
  local sku = items:key_of(row[F.item_code]) or row[F.item_code]
  local location_name = locations:get(row[F.site])
  if not location_name then
    return rec:unchanged("shopify", nil, { skipped = "site " .. row[F.site] .. " is not synced" })
  end
  local location = location_id(location_name) or rec:reject("no Shopify location named " .. location_name)
  local target = math.max(0, math.floor(tonumber(tostring(row[F.quantity])) or 0))
  -- Absolute set guarded by the quantity just read: a sale in between makes Shopify refuse, and we read again.
  for _ = 1, 3 do
    local item = shop:inventory_item(sku, location_count) or rec:reject("no Shopify inventory item with SKU " .. sku)
    local current = item.available[location] or 0
    if current == target then return rec:unchanged("shopify", item.id, { available = target }) end
    local ok, err = pcall(shop.set_available, shop, item.id, location, target, current,
      "x3://stock/" .. tostring(row[F.stock_key]))
    if ok then
      return rec:updated("shopify", item.id, { sku = sku, location = location_name, from = current, to = target })
    end
    if not system_error.is(err, "stale") then error(err, 0) end
  end
  error({ message = "stock of " .. sku .. " kept changing in Shopify while it was set; retrying later",
    retryable = true })
end)

c:every(s.poll_stock, "push_stock", function(job)
  local cursor = paging.time_cursor(job, "stock")
  local rows = {}
  for row in erp:changed_since("stock", cursor.at) do
    if not cursor:seen(row[F.updated], stock_version(row)) then rows[#rows + 1] = row end
  end
  mlhost.each(rows, s.concurrency, function(row)
    job:record("x3.stock", row[F.item_code] .. "@" .. row[F.site], row)
  end)
  for _, row in ipairs(rows) do cursor:advance(row[F.updated], stock_version(row)) end
  cursor:save()
  log.info("stock pushed to Shopify", { rows = #rows, cursor = cursor.at })
end)

for _, topic in ipairs({ "orders/create", "orders/updated" }) do
  c:on_webhook("shopify", topic, function(job, delivery)
    process(job, shopify.normalize_webhook_order(delivery.payload))
  end, { secret = s.shopify.webhook_credential })
end

--- Subscribes this host's webhook receiver (`base_url`, as Shopify reaches it) to the order topics.
c:job("subscribe_webhooks", function(_, base_url)
  if type(base_url) ~= "string" then
    error("input: the receiver's public base URL, e.g. \"https://sync.example.com\"")
  end
  for _, topic in ipairs({ "orders/create", "orders/updated" }) do
    shop:subscribe_webhook(topic, base_url .. "/hooks/x3_shopify/" .. topic:gsub("/", "_"))
  end
end)

return c
