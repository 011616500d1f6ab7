--- Sage X3 ↔ Adobe Commerce. Adobe orders (webhooks, with a catch-up poll) become X3 supplier invoices (PINVOICE)
--- linked line by line to the purchase order the order names (PORDER, found by the configured reference), amounts
--- and tax on GL accounts checked before posting, the allocation in the audit row; an order whose PO X3 does not
--- have is rejected with the reference it looked for, and replays once the PO exists. X3 deliveries, polled, become
--- Adobe shipments with their tracking, each once: the order's `qty_shipped` is read first, and a shipment carries
--- the X3 delivery number in its comment, so a re-run finds it. Customers are aligned per settings. Every record
--- carries the ids of both systems.
local adobe_commerce = require "adobe_commerce"
local sagex3 = require "sagex3"
local codes = require "sagex3.codes"
local mapping = require "sync.mapping"
local paging = require "sync.paging"
local reconcile = require "sync.reconcile"
local system_error = require "sync.system_error"

local money, log = mlhost.money, mlhost.log
local ipairs, tostring, pcall, error, type = ipairs, tostring, pcall, error, type

local c = mlhost.connector {
  name = "x3_adobe",
  description = "Adobe Commerce orders → X3 supplier invoices on their POs; X3 deliveries → Adobe shipments",
  settings = require "x3_adobe.schema",
}
local s = c.settings

local store = adobe_commerce.client(s.adobe)
local erp = sagex3.client(s.x3)
local F = erp.fields

local items = mapping.new("items", s.items)
local purchase_accounts = mapping.new("purchase_accounts", s.purchase_accounts, { pattern = "^[%w%-_]+$" })
local tax_levels = mapping.new("tax_levels", s.tax_levels, { pattern = "^[%w%-_]+$" })
local tax_accounts = mapping.new("tax_accounts", s.tax_accounts, { pattern = "^[%w%-_]+$" })
local carriers = mapping.new("carriers", s.carriers)

local INVOICING = {}
for _, status in ipairs(s.order_statuses) do INVOICING[status] = true end

-- X3 rows found and enabled, for five minutes: a posting asks once, not per line. Problems are never cached, so a
-- replay after the fix sees the fix.
local known = {}

---@param role string "item" or "account"
---@param code string
---@return table? row
---@return string? problem
local function x3_row(role, code)
  local hit = known[role .. ":" .. code]
  if hit and mlhost.time.now() - hit.at < 300 then return hit.row end
  local row = erp:read(role, code)
  local what = (role == "item" and "item " or "GL account ") .. code
  if not row then return nil, what .. " does not exist in X3" end
  if role == "account" then
    local enabled, why = erp:enabled(row, what)
    if not enabled then return nil, why end
  end
  known[role .. ":" .. code] = { row = row, at = mlhost.time.now() }
  return row
end

--- A quantity X3 sent (an integer, a decimal or text) as an integer; 0 when absent.
---@param v any
---@return integer
local function whole(v)
  return math.tointeger(tonumber(tostring(v or 0))) or 0
end

--- The reference the order names its purchase order by (`po_reference`).
---@param order adobe_commerce.Order
---@return string?
local function po_reference(order)
  if s.po_reference == "increment_id" then return order.increment_id end
  return order.po_number
end

--- The supplier invoice for `order` on purchase order `po`, with its GL allocation; `reject` parks the record
--- for anything a person must fix. Each order line takes the first PO line on its item with enough left to invoice.
---@param reject fun(reason: string)
---@param order adobe_commerce.Order
---@param po table the X3 purchase order row
---@return table body
---@return table allocation
---@return table sums
local function build_invoice(reject, order, po)
  local reference = po[F.purchase_order_number]
  local po_lines = po[F.purchase_order_lines] or {}
  local left = {}
  for i, pl in ipairs(po_lines) do left[i] = whole(pl[F.po_line_quantity]) - whole(pl[F.po_line_invoiced]) end
  local lines, allocation = {}, {}
  local net, tax = money.new("0"), money.new("0")

  --- A line's tax level and deductible-tax GL account, both by its rate ("19"), the account checked in X3.
  local function taxed(where, percent)
    local key = reconcile.rate_key(money.div(percent, 100, 6))
    local level = tax_levels:get(key) or reject("no X3 tax level mapped for " .. key .. " % tax (" .. where .. ")")
    local account = tax_accounts:get(key)
      or reject("no GL tax account mapped for " .. key .. " % tax (" .. where .. ")")
    local _, problem = x3_row("account", account)
    if problem then reject(problem .. " (tax of " .. where .. ")") end
    return level, account
  end

  for i, line in ipairs(order.lines) do
    local where = "line " .. i .. ", " .. line.sku
    local code = items:get(line.sku, line.sku)
    local item, problem = x3_row("item", code)
    if not item then reject("unknown SKU " .. line.sku .. ": " .. problem) end
    local account = purchase_accounts:get(item[F.item_class])
      or reject("no GL purchase account mapped for product class " .. tostring(item[F.item_class])
        .. " (" .. where .. ")")
    local _, account_problem = x3_row("account", account)
    if account_problem then reject(account_problem .. " (" .. where .. ")") end
    local quantity = line.quantity - line.canceled
    local found
    for j, pl in ipairs(po_lines) do
      if pl[F.line_item] == code and left[j] >= quantity then
        found = j
        break
      end
    end
    if not found then
      reject("purchase order " .. reference .. " has no line for item " .. code .. " with " .. quantity
        .. " left to invoice (" .. where .. ")")
    end
    local pl = po_lines[found]
    left[found] = left[found] - quantity
    if s.check_po_prices and money.cmp(money.new(pl[F.line_price]), line.price) ~= 0 then
      reject("unit price " .. money.format(line.price, 2) .. " differs from purchase order " .. reference
        .. " line " .. tostring(pl[F.po_line]) .. " (" .. money.format(money.new(pl[F.line_price]), 2) .. ") ("
        .. where .. ", store " .. order.store_id .. ")")
    end
    local line_net = line.row_total - line.discount
    local level, tax_account = taxed(where, line.tax_percent)
    net, tax = net + line_net, tax + line.tax
    lines[#lines + 1] = {
      [F.line_item] = code, [F.line_quantity] = quantity, [F.line_price] = reconcile.cents(line.price),
      [F.line_net] = reconcile.cents(line_net), [F.line_tax] = reconcile.cents(line.tax),
      [F.line_tax_level] = level, [F.line_account] = account,
      [F.line_po] = reference, [F.line_po_line] = pl[F.po_line],
    }
    allocation[#allocation + 1] = {
      line = #lines, sku = line.sku, item = code, account = account, amount = line_net,
      po_line = pl[F.po_line], adobe_item_id = line.item_id,
    }
    allocation[#allocation + 1] = { line = #lines, sku = line.sku, account = tax_account, amount = line.tax }
  end
  if money.cmp(order.shipping, 0) ~= 0 or money.cmp(order.shipping_tax, 0) ~= 0 then
    local account = s.freight.account or reject("it has shipping but no freight account is set (freight.account)")
    local _, item_problem = x3_row("item", s.freight.item)
    if item_problem then reject("freight item: " .. item_problem .. " (freight.item)") end
    local _, account_problem = x3_row("account", account)
    if account_problem then reject(account_problem .. " (freight)") end
    net, tax = net + order.shipping, tax + order.shipping_tax
    local level, tax_account = taxed("shipping", money.new(s.freight.tax_rate))
    lines[#lines + 1] = {
      [F.line_item] = s.freight.item, [F.line_quantity] = 1, [F.line_price] = reconcile.cents(order.shipping),
      [F.line_net] = reconcile.cents(order.shipping), [F.line_tax] = reconcile.cents(order.shipping_tax),
      [F.line_tax_level] = level, [F.line_account] = account,
    }
    allocation[#allocation + 1] = { line = #lines, sku = "shipping", account = account, amount = order.shipping }
    allocation[#allocation + 1] = {
      line = #lines, sku = "shipping", account = tax_account, amount = order.shipping_tax,
    }
  end
  -- Validated before posting: lines and shipping net, plus tax, are the order's total to the cent.
  if money.cmp(tax, order.tax) ~= 0 then
    reject("line and shipping taxes add up to " .. money.format(tax, 2) .. " but the order's tax is "
      .. money.format(order.tax, 2))
  end
  if money.cmp(net + tax, order.total) ~= 0 then
    reject("net " .. money.format(net, 2) .. " + tax " .. money.format(tax, 2) .. " ≠ the order's total "
      .. money.format(order.total, 2))
  end
  local date = (order.created_at or ""):sub(1, 10)
  local body = {
    [F.supplier_invoice_type] = s.invoice_type, [F.supplier_invoice_site] = s.site,
    [F.supplier_invoice_supplier] = po[F.purchase_order_supplier], [F.supplier_invoice_reference] = order.increment_id,
    [F.supplier_invoice_date] = date, [F.supplier_invoice_accounting_date] = date,
    [F.supplier_invoice_currency] = order.currency, [F.supplier_invoice_net] = reconcile.cents(net),
    [F.supplier_invoice_gross] = reconcile.cents(net + tax), [F.supplier_invoice_lines] = lines,
  }
  return body, allocation, { net = net, tax = tax, total = order.total }
end

c:handler("adobe.order", function(rec, input)
  local order = store:order(input.id)
  if not order then return rec:reject("Adobe has no order " .. tostring(input.id)) end
  local function reject(reason) rec:reject("order " .. order.increment_id .. ": " .. reason) end
  local ids = { adobe_order = order.id, increment_id = order.increment_id, store_id = order.store_id }
  local mapped = rec:target_id("x3")
  if mapped and erp:read("supplier_invoice", mapped) then return rec:unchanged("x3", mapped, ids) end
  if not INVOICING[order.status] then
    ids.waiting = "status " .. tostring(order.status) .. " does not invoice (order_statuses)"
    return rec:unchanged("x3", nil, ids)
  end
  local reference = po_reference(order)
  if not reference then
    reject("it names no purchase order (" .. (s.po_reference == "po_number" and "payment po_number" or s.po_reference)
      .. " is empty; payment method " .. tostring(order.payment_method) .. ")")
  end
  local po = erp:purchase_order_by(reference, s.po_field)
  if not po then
    reject("no X3 purchase order with " .. s.po_field .. " = " .. reference
      .. "; enter the purchase order in X3, then replay")
  end
  if type(po[F.purchase_order_lines]) ~= "table" then
    -- A query representation without the lines: the details have them.
    po = erp:read("purchase_order", po[F.purchase_order_number]) or po
  end
  local supplier = po[F.purchase_order_supplier]
  local function find() return erp:supplier_invoice_by_reference(supplier, order.increment_id) end
  local existing = find()
  if existing then
    -- Found by the supplier document number but never recorded: an earlier attempt created it (X3 answered 5xx
    -- after it committed, or the host stopped before recording it). It is this record's creation.
    ids.found_by_reference, ids.purchase_order = true, reference
    return rec:created("x3", existing[F.supplier_invoice_number], ids)
  end
  local body, allocation, sums = build_invoice(reject, order, po)
  local created = erp:create_unique("supplier_invoice", body, find)
  ids.purchase_order, ids.supplier = po[F.purchase_order_number], supplier
  ids.net, ids.tax, ids.total, ids.gl = sums.net, sums.tax, sums.total, allocation
  return rec:created("x3", created[F.supplier_invoice_number], ids)
end)

--- The comment that makes a shipment findable again: Adobe's ship endpoint has no external reference field.
local function delivery_mark(number) return "X3 delivery " .. number end

--- The shipment of `order_id` made for X3 delivery `number`, or nil.
local function shipment_for(order_id, number)
  local mark = delivery_mark(number)
  for _, sh in ipairs(store:shipments_of(order_id)) do
    for _, comment in ipairs(sh.comments) do
      if comment == mark then return sh end
    end
  end
  return nil
end

--- What is left to ship of each order row.
local function open_quantities(order)
  local open, total = {}, 0
  for _, line in ipairs(order.lines) do
    open[line.item_id] = line.quantity - line.shipped - line.canceled
    total = total + open[line.item_id]
  end
  return open, total
end

c:handler("x3.delivery", function(rec, row)
  local number = row[F.delivery_number]
  local reference = row[F.invoice_reference]
  local ids = { x3_delivery = number, order = reference }
  local mapped = rec:target_id("adobe")
  if mapped then return rec:unchanged("adobe", mapped, ids) end
  if type(reference) ~= "string" or reference == "" then
    return rec:unchanged("adobe", nil, { x3_delivery = number, skipped = "no Adobe order reference (CUSORDREF)" })
  end
  local order = store:order_by_increment_id(reference)
  if not order then rec:reject("X3 delivery " .. number .. ": Adobe has no order " .. reference) end
  ids.adobe_order = order.id
  local existing = shipment_for(order.id, number)
  if existing then
    ids.found_by_reference = true
    return rec:created("adobe", existing.id, ids)
  end
  -- Rows of the order by SKU: a configurable product ships through its parent row, which carries the child's SKU.
  local open, remaining = open_quantities(order)
  if remaining == 0 then
    ids.skipped = "the order is already fully shipped in Adobe"
    return rec:unchanged("adobe", nil, ids)
  end
  local by_sku = {}
  for _, line in ipairs(order.lines) do
    by_sku[line.sku] = by_sku[line.sku] or {}
    by_sku[line.sku][#by_sku[line.sku] + 1] = line
    if line.child_sku and line.child_sku ~= line.sku then
      by_sku[line.child_sku] = by_sku[line.child_sku] or {}
      by_sku[line.child_sku][#by_sku[line.child_sku] + 1] = line
    end
  end
  local delivered = row[F.delivery_lines]
  if type(delivered) ~= "table" then
    local detail = erp:read("delivery", number)
    delivered = detail and detail[F.delivery_lines] or {}
  end
  local ship_items, clamped = {}, {}
  for _, dl in ipairs(delivered) do
    local item = dl[F.line_item]
    local sku = items:key_of(item) or item
    local want = whole(dl[F.line_quantity])
    for _, line in ipairs(by_sku[sku] or rec:reject("X3 delivery " .. number .. ": item " .. tostring(item)
        .. " (SKU " .. tostring(sku) .. ") is not on Adobe order " .. reference)) do
      local take = math.min(want, open[line.item_id])
      if take > 0 then
        ship_items[#ship_items + 1] = { order_item_id = line.item_id, qty = take }
        open[line.item_id], want = open[line.item_id] - take, want - take
      end
    end
    if want > 0 then clamped[#clamped + 1] = sku .. " × " .. want .. " already shipped" end
  end
  if #ship_items == 0 then
    ids.skipped, ids.clamped = "everything it delivers is already shipped in Adobe", clamped
    return rec:unchanged("adobe", nil, ids)
  end
  local carrier = row[F.delivery_carrier]
  local tracking = row[F.delivery_tracking]
  local tracks = {}
  if type(tracking) == "string" and tracking ~= "" then
    tracks[1] = { track_number = tracking, title = tostring(carrier or ""),
      carrier_code = carrier and carriers:get(carrier) or "custom" }
  end
  local ok, result = pcall(store.ship, store, order.id, { items = ship_items, tracks = tracks,
    comment = delivery_mark(number), notify = false })
  if not ok then
    if not system_error.is(result) then error(result, 0) end
    -- Refused: the order may have been shipped meanwhile (by a person, or by this record's earlier attempt).
    -- Failed otherwise (5xx after commit, a timeout): it may have committed. Either way, look before acting again.
    local found = shipment_for(order.id, number)
    if found then
      ids.found_by_reference = true
      return rec:created("adobe", found.id, ids)
    end
    if result.kind == "business" then
      local now = store:order(order.id)
      local _, still = open_quantities(now)
      if still == 0 then
        ids.skipped = "the order was fully shipped in Adobe meanwhile"
        return rec:unchanged("adobe", nil, ids)
      end
      rec:reject("X3 delivery " .. number .. ": " .. result.message)
    end
    result.retryable = true
    error(result, 0)
  end
  ids.items, ids.tracking, ids.clamped = ship_items, tracking, #clamped > 0 and clamped or nil
  return rec:created("adobe", result or "(dry run)", ids)
end)

c:handler("adobe.customer", function(rec, customer)
  local ids = { adobe_customer = customer.id, email = customer.email }
  local mapped = rec:target_id("x3")
  if mapped then return rec:unchanged("x3", mapped, ids) end
  local code, code_problem = codes.customer(s.customer_codes, customer.id)
  local create = s.customers ~= "none"
  local row, created = erp:customer_for(customer.email, {
    first_name = customer.firstname, last_name = customer.lastname,
  }, create and code ~= nil, { code = code, category = s.customer_category, currency = s.customer_currency })
  if not row and create then
    rec:reject("store customer " .. tostring(customer.id) .. ": " .. (code_problem or "not created"))
  end
  if not row then return rec:unchanged("x3", nil, ids) end
  if created then return rec:created("x3", row[F.customer_code], ids) end
  return rec:unchanged("x3", row[F.customer_code], ids)
end)

c:handler("x3.customer", function(rec, row)
  local email = row[F.customer_email]
  local ids = { x3_customer = row[F.customer_code], email = email }
  local mapped = rec:target_id("adobe")
  if mapped then return rec:unchanged("adobe", mapped, ids) end
  if type(email) ~= "string" or not email:find("@", 1, true) then
    return rec:unchanged("adobe", nil, { x3_customer = row[F.customer_code], skipped = "no email" })
  end
  local found = store:customer_by_email(email, s.website_id)
  if found then return rec:unchanged("adobe", found.id, ids) end
  local name = tostring(row[F.customer_name] or email)
  local first, last = name:match("^(%S+)%s+(.+)$")
  local created = store:create_customer({
    email = email, firstname = first or name, lastname = last or name, website_id = s.website_id,
  })
  return rec:created("adobe", created and created.id or "(dry run)", ids)
end)

c:handler("x3.item", function(rec, row)
  local code = row[F.item_code]
  local sku = items:key_of(code) or code
  local ids = { x3_item = code, sku = sku }
  local mapped = rec:target_id("adobe")
  if mapped then return rec:unchanged("adobe", mapped, ids) end
  local found = store:product(sku)
  if found then return rec:unchanged("adobe", found.id, ids) end
  -- Created disabled, at price 0: the store's price, visibility and content are the merchant's to set.
  local created = store:with_store("all"):save_product({
    sku = sku, name = tostring(row[F.item_name] or code), price = 0, type_id = "simple", status = 2,
    attribute_set_id = 4, visibility = 1,
  })
  return rec:created("adobe", created and created.id or "(dry run)", ids)
end)

c:handler("adobe.product", function(rec, product)
  local code = items:get(product.sku, product.sku)
  local ids = { adobe_product = product.id, sku = product.sku, x3_item = code }
  if erp:read("item", code) then return rec:unchanged("x3", code, ids) end
  rec:reject("store product " .. product.sku .. " is not an X3 item (" .. code .. "); create it in X3 with its class"
    .. " and unit, or map the SKU in items, then replay")
end)

if s.products ~= "none" then
  c:every(s.poll_products, "align_products", function(job)
    local rows = {}
    for row in erp:query("item") do
      if purchase_accounts:get(row[F.item_class]) then rows[#rows + 1] = row end
    end
    mlhost.each(rows, s.concurrency, function(row) job:record("x3.item", row[F.item_code], row) end)
    if s.products == "both" then
      local list = {}
      for p in store:search("/products", adobe_commerce.search():where("type_id", "eq", "simple")) do
        list[#list + 1] = { id = p.id, sku = p.sku }
      end
      mlhost.each(list, s.concurrency, function(p) job:record("adobe.product", p.sku, p) end)
    end
  end)
end

-- Timestamps have whole seconds, so the cursor remembers what it handled at its last second by id and state.
local function order_version(order) return order.id .. "/" .. tostring(order.status) end

c:every(s.poll_orders, "pull_orders", function(job)
  local cursor = paging.time_cursor(job, "orders", s.orders_since)
  local count = 0
  local pages = paging.pages(function(iterator)
    local page = {}
    for order in iterator do
      page[#page + 1] = order
      if #page >= s.adobe.page_size then return page, iterator end
    end
    return page, nil
  end, store:orders_changed_since(cursor.at))
  paging.pipeline(pages, s.concurrency, function(order)
    if not cursor:seen(order.updated_at, order_version(order)) then
      job:record("adobe.order", order.increment_id, { id = order.id })
      count = count + 1
    end
  end, function(page)
    -- Only now, with every record of this page and the ones before committed, may the cursor pass it.
    for _, order in ipairs(page) do cursor:advance(order.updated_at, order_version(order)) end
    cursor:save()
  end)
  log.info("orders pulled from Adobe Commerce", { orders = count, cursor = cursor.at })
end)

local function delivery_version(row) return tostring(row[F.delivery_number]) end

c:every(s.poll_deliveries, "pull_deliveries", function(job)
  local cursor = paging.time_cursor(job, "deliveries", s.deliveries_since)
  local rows = {}
  for row in erp:changed_since("delivery", cursor.at) do
    if not cursor:seen(row[F.updated], delivery_version(row)) then rows[#rows + 1] = row end
  end
  mlhost.each(rows, s.concurrency, function(row)
    job:record("x3.delivery", row[F.delivery_number], row)
  end)
  for _, row in ipairs(rows) do cursor:advance(row[F.updated], delivery_version(row)) end
  cursor:save()
  log.info("X3 deliveries pulled", { deliveries = #rows, cursor = cursor.at })
end)

if s.customers ~= "none" then
  c:every(s.poll_customers, "align_customers", function(job)
    local cursor = paging.time_cursor(job, "customers")
    local list = {}
    for customer in store:customers_changed_since(cursor.at) do
      local at = adobe_commerce.iso(customer.updated_at)
      if not cursor:seen(at, customer.id) then list[#list + 1] = customer end
    end
    mlhost.each(list, s.concurrency, function(customer)
      job:record("adobe.customer", customer.id, customer)
    end)
    for _, customer in ipairs(list) do cursor:advance(adobe_commerce.iso(customer.updated_at), customer.id) end
    cursor:save()
    if s.customers == "both" then
      local rows = {}
      for row in erp:query("customer") do rows[#rows + 1] = row end
      mlhost.each(rows, s.concurrency, function(row)
        job:record("x3.customer", row[F.customer_code], row)
      end)
    end
  end)
end

--- One webhook delivery: the order is read again from the store (the payload says which order, not what it is now).
local function on_order_event(job, delivery)
  local payload = type(delivery.payload) == "table" and delivery.payload or {}
  local data = payload.data or (payload.event and payload.event.data) or {}
  local order = type(data) == "table" and (data.order or data.value) or nil
  local id = type(order) == "table" and (order.entity_id or order.id)
  if not id then
    log.warn("Adobe order event without an order id", { delivery = delivery.delivery_id })
    return
  end
  local increment_id = order.increment_id or tostring(id)
  job:record("adobe.order", increment_id, { id = id })
end

c:on_webhook("adobe_commerce", "observer.sales_order_save_after", on_order_event,
  { secret = s.adobe.webhook_credential, name = "order" })
if s.adobe.io_credential then
  -- I/O Events' type is com.adobe.commerce.observer.sales_order_save_after; the topic only names the job.
  c:on_webhook("adobe_io", "observer.sales_order_save_after", on_order_event,
    { secret = s.adobe.io_credential, name = "order_events" })
end

return c
