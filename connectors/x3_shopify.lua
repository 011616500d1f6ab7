--- Sage X3 ↔ Shopify. Shopify orders become X3 sales invoices (customer found by email, GL accounts and cost
--- centres checked before posting, the allocation kept in the audit row); order status changes update the
--- invoice; Shopify fulfilments become X3 deliveries; X3 stock is pushed to Shopify's available quantities with
--- compare-and-set. Orders arrive by polling and by webhooks; both lead to the same record, keyed on the Shopify
--- order id, and every creation is preceded by a lookup of its reference in X3, so nothing is posted twice.
local shopify = require "shopify"
local sagex3 = require "sagex3"
local mapping = require "mapping"
local paging = require "paging"
local reconcile = require "reconcile"
local system_error = require "system_error"

local money, log, time = mlhost.money, mlhost.log, mlhost.time
local ipairs, tostring, tonumber, pcall, error = ipairs, tostring, tonumber, pcall, error

local c = mlhost.connector {
  name = "x3_shopify",
  description = "Shopify orders → X3 sales invoices and deliveries; X3 stock → Shopify",
  settings = require "x3_shopify_schema",
}
local s = c.settings

local shop = shopify.client(s.shopify)
local erp = sagex3.client(s.x3)
local F = erp.fields

local items = mapping.new("items", s.items)
local sales_accounts = mapping.new("sales_accounts", s.sales_accounts, { pattern = "^[%w%-_]+$" })
local tax_accounts = mapping.new("tax_accounts", s.tax_accounts, { pattern = "^[%w%-_]+$" })
local cost_centres = mapping.new("cost_centres", s.cost_centres, { required = { s.site } })
local locations = mapping.new("locations", s.locations)

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

-- X3 rows that were found and enabled, for five minutes: a posting run asks once, not per line. Problems are
-- never cached, so a replay after the fix sees the fix.
local known = {}

---@param role string "item", "account" or "cost_centre"
---@param code string
---@return table? row
---@return string? problem
local function x3_row(role, code)
  local hit = known[role .. ":" .. code]
  if hit and time.now() - hit.at < 300 then return hit.row end
  local row = erp:read(role, code)
  local what = role == "cost_centre" and "cost centre" or (role == "account" and "GL account" or "item")
  if not row then return nil, what .. " " .. code .. " does not exist in X3" end
  if role ~= "item" and not erp:enabled(row) then return nil, what .. " " .. code .. " is inactive in X3" end
  known[role .. ":" .. code] = { row = row, at = time.now() }
  return row
end

---@param rate mlhost.Decimal?
---@return string
local function percent(rate)
  return rate and money.format(money.mul(rate, 100), 0) or "0"
end

--- The X3 invoice for `order`, with its GL allocation; `reject` parks the record for anything a person must fix.
---@param reject fun(reason: string)
---@param order stdlib.Order
---@param customer table
---@return table body
---@return table allocation
local function build_invoice(reject, order, customer)
  local lines, allocation = {}, {}
  local centre = cost_centres:get(s.site)
  local _, centre_problem = x3_row("cost_centre", centre)
  if centre_problem then reject(centre_problem .. " (cost centre of site " .. s.site .. ")") end
  local net_total = money.new("0")
  for i, line in ipairs(order.lines) do
    local code = items:get(line.sku, line.sku)
    local item, item_problem = x3_row("item", code)
    if not item then reject("unknown SKU " .. line.sku .. ": " .. item_problem) end
    local class = item[F.item_class]
    local account = sales_accounts:get(class)
      or reject("no GL sales account mapped for product class " .. tostring(class))
    local rate = percent(line.tax_rate)
    local tax_account = tax_accounts:get(rate) or reject("no GL tax account mapped for " .. rate .. " % tax")
    for _, acc in ipairs({ account, tax_account }) do
      local _, problem = x3_row("account", acc)
      if problem then reject(problem .. " (line " .. i .. ", " .. line.sku .. ")") end
    end
    local net = money.round(line.unit_price * line.quantity, 2, "half_up")
    net_total = net_total + net
    lines[i] = {
      ITMREF = code, QTY = line.quantity, GROPRI = reconcile.cents(line.unit_price), AMTNOTLIN = reconcile.cents(net),
      VATAMT = reconcile.cents(line.tax), VACITM = rate, ACC = account, CCE = centre,
    }
    allocation[#allocation + 1] = { line = i, sku = line.sku, account = account, cost_centre = centre, amount = net }
    allocation[#allocation + 1] = {
      line = i, sku = line.sku, account = tax_account, cost_centre = centre, amount = line.tax,
    }
  end
  return {
    SIVTYP = s.invoice_type, SALFCY = s.site, BPCINV = customer[F.customer_code],
    [F.invoice_reference] = order.name, INVDAT = order.created_at:sub(1, 10), CUR = order.currency,
    AMTNOT = reconcile.cents(net_total), AMTATI = reconcile.cents(order.total),
    [F.invoice_status] = invoice_status(order), SIDD = lines,
  }, allocation
end

-- An order only moves forward (pending → paid → fulfilled; cancelled ends it), so a webhook that arrives after a
-- later poll, carrying an older state, cannot move the invoice back.
local RANK = { [STATUS.pending] = 1, [STATUS.paid] = 2, [STATUS.fulfilled] = 3, [STATUS.cancelled] = 4 }

c:handler("shopify.order", function(rec, order)
  local status = invoice_status(order)
  local number = rec:target_id("x3")
  local invoice = number and erp:read("invoice", number) or erp:invoice_by_reference(order.name)
  if invoice then
    number = invoice[F.invoice_number]
    local was = invoice[F.invoice_status]
    if (RANK[status] or 0) <= (RANK[was] or 0) then return rec:unchanged("x3", number) end
    erp:update("invoice", number, { [F.invoice_status] = status })
    return rec:updated("x3", number, { status = status, was = was })
  end
  if order.cancelled then return rec:unchanged("x3", nil, { skipped = "cancelled before it was invoiced" }) end
  local function reject(reason) rec:reject("order " .. order.name .. ": " .. reason) end
  local ok, problem, sums = reconcile.order(order)
  if not ok then reject("totals do not reconcile: " .. problem) end
  local email = order.email or reject("needs review: it has no email to find its X3 customer by")
  local customer = erp:customer_by_email(email)
    or reject("needs review: no X3 customer with email " .. email .. "; create the customer in X3, then replay")
  local body, allocation = build_invoice(reject, order, customer)
  local created = erp:create("invoice", body)
  return rec:created("x3", created[F.invoice_number], {
    customer = customer[F.customer_code], net = sums.net, tax = sums.tax, total = order.total, gl = allocation,
  })
end)

c:handler("shopify.fulfillment", function(rec, input)
  local f = input.fulfillment
  local number = rec:target_id("x3")
  if not number then
    local existing = erp:delivery_by_reference(f.id)
    number = existing and existing[F.delivery_number]
  end
  if number then return rec:unchanged("x3", number) end
  local invoice = erp:invoice_by_reference(input.order)
    or rec:reject("order " .. input.order .. " has no X3 invoice yet (see its record); replay once it is invoiced")
  local lines = {}
  for i, fl in ipairs(f.lines) do
    local sku = input.skus[fl.line_id]
      or rec:reject("fulfilled line " .. fl.line_id .. " is not on order " .. input.order)
    lines[i] = { ITMREF = items:get(sku, sku), QTY = fl.quantity }
  end
  local delivery = erp:create("delivery", {
    BPCORD = invoice.BPCINV, [F.invoice_reference] = input.order, [F.delivery_reference] = f.id,
    SINVNUM = invoice[F.invoice_number], DLVDAT = (f.created_at or ""):sub(1, 10), STOFCY = s.site, SDDLIN = lines,
  })
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
  job:record("shopify.order", order.id, order)
  if #order.fulfillments == 0 then return end
  local skus = {}
  for _, line in ipairs(order.lines) do skus[line.id] = line.sku end
  for _, f in ipairs(order.fulfillments) do
    job:record("shopify.fulfillment", f.id, { order = order.name, skus = skus, fulfillment = f })
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

-- Shopify location ids by name, asked once per version of the script.
local location_ids

---@param name string
---@return string?
local function location_id(name)
  if not location_ids then
    -- Filled before it is published: coroutines that ask meanwhile fetch too, rather than see it half-filled.
    local found = {}
    for _, l in ipairs(shop:locations()) do found[l.name] = l.id end
    location_ids = found
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
    local item = shop:inventory_item(sku) or rec:reject("no Shopify inventory item with SKU " .. sku)
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
