--- Sage X3 ↔ WooCommerce. WooCommerce orders become X3 sales invoices with their billing and delivery addresses
--- (customer found by email, or created once from the billing data; each product mapped to an X3 item and GL
--- account; GL dimensions checked before posting); the X3 invoice number is written back to the order; status
--- changes are tracked, each refund of an invoiced order becomes a credit note of its own (a cancellation, or a
--- full refund with none credited before, one of the whole order), and the goods of a shipped or delivered order
--- leave X3 stock as one miscellaneous issue. Orders arrive by webhook; a health job
--- keeps the store's webhooks registered and active and catches up by polling what was changed while they were
--- not, and a slower poll is the safety net. Every creation is preceded by a lookup of its reference in X3.
local woo = require "woocommerce"
local sagex3 = require "sagex3"
local codes = require "sagex3.codes"
local x3_invoices = require "sagex3.invoice"
local mapping = require "sync.mapping"
local paging = require "sync.paging"
local reconcile = require "sync.reconcile"

local log, time, store = mlhost.log, mlhost.time, mlhost.store
local ipairs, pairs, tostring, error, type = ipairs, pairs, tostring, error, type

local c = mlhost.connector {
  name = "x3_woocommerce",
  description = "WooCommerce orders → X3 sales invoices, credit notes and stock issues; webhook health",
  settings = require "x3_woocommerce.schema",
}
local s = c.settings

local shop = woo.client(s.woocommerce)
local erp = sagex3.client(s.x3)
local F = erp.fields
local PREFIX = s.woocommerce.reference_prefix

local tax_accounts = mapping.new("tax_accounts", s.tax_accounts, { pattern = "^[%w%-_]+$" })
local tax_levels = mapping.new("tax_levels", s.tax_levels, { pattern = "^[%w%-_]+$" })
local cost_centres = mapping.new("cost_centres", s.cost_centres, { required = { s.site } })
for _, code_of in ipairs({ { "fees.item", s.fees.item }, { "fees.account", s.fees.account } }) do
  if code_of[2] ~= nil and not tostring(code_of[2]):match("^[%w%-_]+$") then
    error(code_of[1] .. " '" .. tostring(code_of[2]) .. "' is not an X3 code")
  end
end
for key, p in pairs(s.products) do
  for _, field in ipairs({ "item", "account" }) do
    if not tostring(p[field]):match("^[%w%-_]+$") then
      error("products: " .. key .. " has " .. field .. " '" .. tostring(p[field]) .. "', not an X3 code")
    end
  end
end
local toward_x3 = { woocommerce_to_x3 = true, both = true }
local toward_store = { x3_to_woocommerce = true, both = true }
if toward_x3[s.align.products] then
  for _, code_of in ipairs({ { "align.product_class", s.align.product_class }, { "align.unit", s.align.unit } }) do
    if code_of[2] == nil or not tostring(code_of[2]):match("^[%w%-_]+$") then
      error(code_of[1] .. " is needed as an X3 code to create X3 items from store products (align.products = "
        .. s.align.products .. ")")
    end
  end
end
if s.create_customers and not s.customer_category then
  error("create_customers needs customer_category: the X3 customer category new customers get")
end

-- WooCommerce's core statuses in an order's life, and the shipment-tracking plugins' two; a store's own statuses
-- get their place from `status_ranks`, so a misspelt status in the settings stops the load.
local RANK = { pending = 1, ["on-hold"] = 1, failed = 1, processing = 2, completed = 3, shipped = 4, delivered = 5,
  cancelled = 9, refunded = 9 }
for status, rank in pairs(s.status_ranks or {}) do
  RANK[status] = math.tointeger(tonumber(rank)) or error("status_ranks: " .. status .. " needs a whole number")
end
local function set(list)
  local out = {}
  for _, v in ipairs(list) do
    if not RANK[v] then
      error("'" .. v .. "' is not a WooCommerce order status (or give it a place in status_ranks)")
    end
    out[v] = true
  end
  return out
end
local INVOICING, STOCK = set(s.invoice_statuses), set(s.stock_statuses)
-- After invoicing, these undo the sale: the invoice gets a credit note.
local REVERSED = { cancelled = true, refunded = true }

--- The X3 item and GL sales account of a line: by product id first (a variation by its own id), then by SKU.
---@return table? product {item, account}
local function product_of(line)
  return (line.variation_id and s.products[line.variation_id]) or s.products[line.product_id]
    or (line.sku and s.products[line.sku]) or nil
end

local invoices = x3_invoices.builder(erp, {
  site = s.site, cost_centres = cost_centres, tax_levels = tax_levels, tax_accounts = tax_accounts,
  freight = s.freight, credit_note_type = s.credit_note_type, refund_reference_prefix = s.refund_reference_prefix,
  target = function(builder, line, reject)
    if line.fee then
      local fees = s.fees
      if not (fees.item and fees.account) then
        reject("it has fee lines (" .. tostring(line.name) .. "): set fees.item and fees.account to post them")
      end
      local _, problem = builder:row("item", fees.item)
      if problem then reject("fee item: " .. problem .. " (fees.item)") end
      return fees.item, fees.account
    end
    local p = product_of(line)
    if not p then
      reject("unknown product " .. line.product_id
        .. (line.sku and (" (SKU " .. line.sku .. ")") or " (no SKU: the product is gone from the store)")
        .. ": not in the products mapping")
    end
    local _, problem = builder:row("item", p.item)
    if problem then reject("product " .. line.product_id .. ": " .. problem) end
    return p.item, p.account
  end,
})

--- The invoice of `order` in X3, if any: by the id this record got, or by its reference.
local function invoice_of(rec, order)
  local mapped = rec:target_id("x3")
  return mapped and erp:read("invoice", mapped) or erp:invoice_by_reference(order.name), mapped
end

--- The refunds of `order`, each with what it gave back; a store that does not serve them rejects the record, for a
--- person to credit in X3 or to open the route, then replay.
local function refunds_of(order, reject)
  return shop:order_refunds(order.id) or reject("order " .. tostring(order.id) .. " was refunded, but the store does "
    .. "not serve GET /orders/" .. tostring(order.id) .. "/refunds (rest_no_route); credit it in X3 by hand, or "
    .. "open the route, then replay")
end

--- Whether `order` has refunds while it is not refunded in full (nor cancelled): each is credited on its own.
local function partly_refunded(order)
  return mlhost.money.cmp(order.refunded, 0) ~= 0 and not REVERSED[order.status]
end

--- An invoiced order changed: each refund becomes a credit note of its own for what it gave back (the shared
--- builder's `credit_refunds`, found by its reference before it is made); a cancellation or a full refund with no
--- refund credited before becomes one credit note of the whole order, linked to the invoice (a posted invoice is
--- never edited); once a refund is credited on its own, the rest of the order's undoing is credited refund by
--- refund, never the full amount again. Other changes are noted in the audit trail (`status`).
local function after_invoicing(rec, order, invoice, reject)
  local number = invoice[F.invoice_number]
  local credit = REVERSED[order.status] and invoices:credit_note_of(number)
  if partly_refunded(order) or (credit and invoices:credits_one_refund(credit)) then
    local made = invoices:credit_refunds(reject, order, invoice, refunds_of(order, reject))
    if #made == 0 then return rec:unchanged("x3", number, { refunds = "credited", status = order.status }) end
    return rec:updated("x3", number, { credit_notes = made, status = order.status, refunded = order.refunded })
  end
  if REVERSED[order.status] then
    if credit then
      return rec:unchanged("x3", number, { credit_note = credit[F.invoice_number], status = order.status })
    end
    if order.problem then reject(order.problem) end
    local ok, problem = reconcile.order(order)
    if not ok then reject("totals do not reconcile: " .. problem) end
    local body = invoices:build(reject, order, invoice[F.invoice_customer],
      { type = s.credit_note_type, origin = number })
    local created = erp:create_unique("credit_note", body, function() return invoices:credit_note_of(number) end)
    return rec:updated("x3", number, { credit_note = created[F.invoice_number], reason = order.status,
      refunded = order.refunded, total = order.total })
  end
  return rec:unchanged("x3", number, { status = order.status })
end

--- An order invoiced just now may already have refunds (refunded in part before it reached X3): each is credited.
---@return table[]?
local function credit_new_refunds(order, invoice, reject)
  if not partly_refunded(order) then return nil end
  return invoices:credit_refunds(reject, order, invoice, refunds_of(order, reject))
end

c:handler("woocommerce.order", function(rec, raw)
  local order = woo.normalize_order(raw, PREFIX)
  local function reject(reason) rec:reject("order " .. order.name .. ": " .. reason) end
  local invoice, mapped = invoice_of(rec, order)
  if invoice and not mapped and not REVERSED[order.status] then
    -- Found by its reference but never recorded: an earlier attempt created it (X3 answered 5xx after it
    -- committed, or the host stopped before recording it). It is this record's creation.
    return rec:created("x3", invoice[F.invoice_number], { found_by_reference = true, status = order.status,
      credit_notes = credit_new_refunds(order, invoice, reject) })
  end
  if invoice then return after_invoicing(rec, order, invoice, reject) end
  if REVERSED[order.status] then
    return rec:unchanged("x3", nil, { skipped = order.status .. " before it was invoiced" })
  end
  if not INVOICING[order.status] then
    return rec:unchanged("x3", nil, { waiting = "status " .. tostring(order.status)
      .. " does not invoice (invoice_statuses); the order is taken up again when it changes" })
  end
  if order.problem then reject(order.problem) end
  local ok, problem, sums = reconcile.order(order)
  if not ok then reject("totals do not reconcile: " .. problem) end
  local email = order.email or reject("needs review: it has no billing email to find its X3 customer by")
  local code, code_problem = codes.customer(s.customer_codes, raw.customer_id, raw.id)
  local customer, new_customer = erp:customer_for(email, order.billing, s.create_customers and code ~= nil,
    { code = code, category = s.customer_category, currency = order.currency })
  if not customer and s.create_customers then reject("no X3 customer with email " .. email .. ": " .. code_problem) end
  if not customer then
    reject("needs review: no X3 customer with email " .. email .. "; create the customer in X3, then replay")
  end
  local body, allocation = invoices:build(reject, order, customer[F.customer_code],
    { type = s.invoice_type, reference = order.name })
  erp:add_address(body, "bill", order.billing)
  erp:add_address(body, "ship", order.delivery)
  local created = erp:create_unique("invoice", body, function() return erp:invoice_by_reference(order.name) end)
  return rec:created("x3", created[F.invoice_number], {
    customer = customer[F.customer_code], new_customer = new_customer or nil, net = sums.net,
    shipping = sums.shipping, tax = sums.tax, total = order.total, status = order.status, gl = allocation,
    credit_notes = credit_new_refunds(order, created, reject),
  })
end)

--- The X3 invoice number written back to the order (meta `_x3_invoice`), once: the store fires order.updated for
--- it, and that echo finds the number already there.
--- A store without the orders batch route (a host or plugin blocking it: 404 `rest_no_route`) or without the order
--- any more is reported and skipped, not retried; `woocommerce.write_back = false` turns the write-back off.
c:handler("woocommerce.order_link", function(rec, input)
  if input.current == input.invoice then return rec:unchanged("woocommerce", input.order) end
  local ok, err = pcall(shop.update_order, shop, input.order,
    { meta_data = { { key = "_x3_invoice", value = input.invoice } } })
  if ok then return rec:updated("woocommerce", input.order, { invoice = input.invoice }) end
  if type(err) == "table" and err.kind == "not_found" then
    local why = err.code == "rest_no_route"
      and "the store has no route for POST /orders/batch; set woocommerce.write_back = false or open the route"
      or "the store no longer has the order"
    log.error("X3 invoice number not written back to the order: " .. why,
      { order = input.order, invoice = input.invoice, error = err.message })
    return rec:unchanged("woocommerce", input.order, { skipped = why, invoice = input.invoice })
  end
  error(err, 0)
end)

--- The goods of a shipped or delivered order leave X3 stock: one miscellaneous issue per order, whatever status
--- follows, found by its reference before it is posted.
c:handler("woocommerce.shipment", function(rec, input)
  local order = woo.normalize_order(input.order, PREFIX)
  local function find() return erp:issue_by_reference(order.name) end
  local done = rec:target_id("x3")
  if not done then
    local existing = find()
    done = existing and existing[F.issue_number]
  end
  if done then return rec:unchanged("x3", done, { status = order.status }) end
  if not erp:invoice_by_reference(order.name) then
    if input.order_failed then
      error({ message = "order " .. order.name .. " has no X3 invoice yet; retried with it", retryable = true })
    end
    rec:reject("order " .. order.name .. " has no X3 invoice yet (see its record); replay once it is invoiced")
  end
  local lines = {}
  for _, line in ipairs(order.lines) do
    if not line.fee then  -- a fee moves no goods
      local p = product_of(line) or rec:reject("order " .. order.name .. ": unknown product " .. line.product_id)
      lines[#lines + 1] = { [F.line_item] = p.item, [F.line_quantity] = line.quantity }
    end
  end
  local issue = erp:create_unique("stock_issue", {
    [F.issue_site] = s.stock_site or s.site, [F.issue_date] = (order.updated_at or ""):sub(1, 10),
    [F.issue_reference] = order.name, [F.issue_lines] = lines,
  }, find)
  return rec:created("x3", issue[F.issue_number], { status = order.status, lines = #lines })
end)

--- One order through its records, from a webhook or a poll alike.
---@param job mlhost.Job
---@param raw table the order as the store sends it
local function process(job, raw)
  local outcome, invoice = job:record("woocommerce.order", raw.id, raw)
  local current
  for _, m in ipairs(raw.meta_data or {}) do
    if m.key == "_x3_invoice" then current = m.value end
  end
  if s.woocommerce.write_back and invoice and (outcome == "created" or outcome == "updated" or outcome == "unchanged")
    and current ~= invoice then
    job:record("woocommerce.order_link", raw.id, { order = raw.id, invoice = invoice, current = current })
  end
  if STOCK[raw.status] then
    job:record("woocommerce.shipment", raw.id, { order = raw, order_failed = outcome == "failed" or nil })
  end
end

-- Timestamps have whole seconds, so the cursor remembers what it handled at its last second by id and state.
local function order_version(raw) return tostring(raw.id) .. "/" .. tostring(raw.status) end

--- Polls the orders changed since the cursor (or since `from`, when that is later: nothing before it was missed),
--- and moves the cursor past each page once its records are committed.
local function pull(job, from)
  local cursor = paging.time_cursor(job, "orders", s.orders_since)
  if from and (not cursor.at or time.parse(from) > time.parse(cursor.at)) then cursor.at, cursor.ids = from, {} end
  local count = 0
  paging.pipeline(shop:order_pages(cursor.at), s.concurrency, function(raw)
    local at = woo.utc(raw.date_modified_gmt)
    if not cursor:seen(at, order_version(raw)) then
      process(job, raw)
      count = count + 1
    end
  end, function(page)
    for _, raw in ipairs(page) do cursor:advance(woo.utc(raw.date_modified_gmt), order_version(raw)) end
    cursor:save()
  end)
  return count, cursor.at
end

c:every(s.poll_orders, "pull_orders", function(job)
  local count, at = pull(job)
  log.info("orders pulled from WooCommerce", { orders = count, cursor = at })
end)

--- The route of a topic's webhook on this host (`order.created` → order_created).
local function route(topic) return (topic:gsub("[/.]", "_")) end

for _, topic in ipairs(s.webhooks.topics) do
  c:on_webhook("woocommerce", topic, function(job, delivery)
    local raw = delivery.payload
    if type(raw) ~= "table" or raw.id == nil then
      error({ message = "delivery without an order", retryable = false })
    end
    process(job, raw)
    -- What was received, for a catch-up poll after the webhook stops: the latest change delivered.
    local at = woo.utc(raw.date_modified_gmt)
    mlhost.lock("last_delivery")
    local last = store.get("last_delivery")
    if at and (not last or time.parse(at) > time.parse(last)) then store.set("last_delivery", at) end
    mlhost.unlock("last_delivery")
  end, { secret = s.woocommerce.webhook_credential })
end

--- A webhook the store disabled (after failed deliveries) or an admin paused: re-enabled when the settings allow
--- it (then `updated`), otherwise parked for a person (`rejected`); a replay checks it again.
c:handler("woocommerce.webhook", function(rec, input)
  local id = input.id
  local reenable = (input.status == "disabled" and s.webhooks.reenable)
    or (input.status == "paused" and s.webhooks.reenable_paused)
  if input.status ~= "active" and reenable then
    shop:update_webhook(id, { status = "active" })
    log.error("WooCommerce webhook was " .. input.status .. "; re-enabled, and missed orders are polled",
      { webhook = id, topic = input.topic })
    return rec:updated("woocommerce", id, { was = input.status, topic = input.topic, reenabled = true })
  end
  for _, w in ipairs(shop:webhooks()) do
    if w.id == id and w.status == "active" then return rec:unchanged("woocommerce", id, { status = "active" }) end
  end
  log.error("WooCommerce webhook is " .. tostring(input.status) .. ": orders are only polled until it is active",
    { webhook = id, topic = input.topic })
  rec:reject("webhook " .. tostring(id) .. " (" .. tostring(input.topic) .. ") is " .. tostring(input.status)
    .. " in the store; activate it (WooCommerce > Settings > Advanced > Webhooks) or set webhooks.reenable, "
    .. "then replay")
end)

--- Lists the store's webhooks, registers the missing ones, alerts on disabled or paused ones and re-enables them
--- as the settings allow, then catches up by polling orders changed since the last delivery received.
c:every(s.webhook_health, "webhook_health", function(job)
  local hooks = shop:webhooks()
  local gap = false
  for _, topic in ipairs(s.webhooks.topics) do
    local path = "/hooks/" .. c.name .. "/" .. route(topic)
    local wanted = s.woocommerce.receiver_url and (s.woocommerce.receiver_url:gsub("/+$", "") .. path)
    local found
    for _, w in ipairs(hooks) do
      local url = tostring(w.delivery_url)
      if w.topic == topic and (url == wanted or (not wanted and url:sub(-#path) == path)) then
        if not found or w.status == "active" then found = w end
      end
    end
    if not found then
      gap = true
      if wanted then
        local created = shop:create_webhook({ name = c.name .. " " .. topic, topic = topic, delivery_url = wanted },
          s.woocommerce.webhook_credential)
        log.error("WooCommerce webhook was missing; registered", { topic = topic, webhook = created.id, url = wanted })
      else
        log.error("WooCommerce has no webhook for " .. topic .. " to this host; set woocommerce.receiver_url to "
          .. "register it, until then orders are only polled", { topic = topic })
      end
    elseif found.status ~= "active" then
      gap = true
      job:record("woocommerce.webhook", found.id, { id = found.id, topic = topic, status = found.status })
    end
  end
  if gap then
    local last = store.get("last_delivery")
    local from = last and time.format(time.parse(last) - s.catch_up_margin, "iso8601") or nil
    local count, at = pull(job, from)
    log.info("caught up on orders changed while webhooks were down", { orders = count, since = from, cursor = at })
  end
end)

--- A store customer in X3: found by email, or created from its billing data (the same lock as an order's).
c:handler("woocommerce.customer", function(rec, customer)
  local email = type(customer.email) == "string" and customer.email ~= "" and customer.email
    or rec:reject("store customer " .. tostring(customer.id) .. " has no email")
  local b = customer.billing or {}
  local code, code_problem = codes.customer(s.customer_codes, customer.id)
  local row, created = erp:customer_for(email, {
    first_name = customer.first_name, last_name = customer.last_name, company = b.company, country_code = b.country,
  }, code ~= nil, { code = code,
    category = s.customer_category or rec:reject("customer_category is needed to create X3 customers") })
  if not row then rec:reject("store customer " .. tostring(customer.id) .. " (" .. email .. "): " .. code_problem) end
  if created then return rec:created("x3", row[F.customer_code], { email = email }) end
  return rec:unchanged("x3", row[F.customer_code])
end)

--- An X3 customer in the store: found by email, or created; the store refusing a second account for the email
--- (another writer got there first) is the same as finding it.
c:handler("x3.customer", function(rec, row)
  local email = row[F.customer_email]
  if type(email) ~= "string" or not email:find("@", 1, true) then
    return rec:unchanged("woocommerce", nil, { skipped = "no email in X3" })
  end
  local existing = shop:customer_by_email(email)
  if existing then return rec:unchanged("woocommerce", existing.id) end
  local name = tostring(row[F.customer_name] or "")
  local first, last = name:match("^(%S+)%s+(.+)$")
  local ok, created = pcall(shop.create_customer, shop, {
    email = email, first_name = first or name, last_name = last or "",
    billing = { email = email, company = first and "" or name, country = row[F.customer_country] },
  })
  if ok then return rec:created("woocommerce", created.id, { email = email }) end
  if type(created) == "table" and created.code == "registration-error-email-exists" then
    local found = shop:customer_by_email(email)
    if found then return rec:unchanged("woocommerce", found.id) end
  end
  error(created, 0)
end)

-- Items of the connector's own lines (freight, fees) are no store products.
local own_items = {}
if s.freight.item then own_items[s.freight.item] = true end
if s.fees.item then own_items[s.fees.item] = true end
-- The mapping read backwards: X3 item → the store product ids and SKUs mapped to it, sorted so a run is repeatable.
local mapped_to = {}
for key, p in pairs(s.products) do
  mapped_to[p.item] = mapped_to[p.item] or {}
  table.insert(mapped_to[p.item], tostring(key))
end
for _, keys in pairs(mapped_to) do table.sort(keys) end

--- A store product in X3: the item its mapping names (by product id, else SKU), else the item of its SKU; created
--- when X3 lacks it (the code is ours, so a retry reads it back rather than making a second).
c:handler("woocommerce.product", function(rec, product)
  local sku = type(product.sku) == "string" and product.sku ~= "" and product.sku or nil
  if not sku then return rec:unchanged("x3", nil, { skipped = "no SKU in the store", woocommerce = product.id }) end
  local mapped = s.products[tostring(product.id)] or s.products[sku]
  local item = mapped and mapped.item or sku
  local details = { woocommerce = product.id, sku = sku }
  if not item:match("^[%w%-_]+$") then
    rec:reject("store product " .. tostring(product.id) .. " has SKU '" .. sku .. "', not an X3 item code; map it "
      .. "to an item in products, then replay")
  end
  if erp:read("item", item) then return rec:unchanged("x3", item, details) end
  local name = type(product.name) == "string" and product.name ~= "" and product.name or sku
  local find = function() return erp:read("item", item) end
  local ok, row = pcall(erp.create_unique, erp, "item", {
    [F.item_code] = item, [F.item_name] = name, [F.item_class] = s.align.product_class, [F.item_unit] = s.align.unit,
  }, find)
  if ok then return rec:created("x3", row[F.item_code] or item, details) end
  -- Another record of the same item (a product and its mapping) got there first: X3 refuses the second create.
  if find() then return rec:unchanged("x3", item, details) end
  error(row, 0)
end)

--- An X3 item in the store: the product its mapping names, else the product with its SKU (the mapped SKU, else
--- the item code); missing, created as a draft for a person to price and publish. The store refusing the SKU
--- (`product_invalid_sku`: another writer got there first) is the same as finding it.
c:handler("x3.product", function(rec, row)
  local item = tostring(row[F.item_code])
  if own_items[item] then return rec:unchanged("woocommerce", nil, { skipped = "freight or fee item", x3 = item }) end
  local sku = item
  for _, key in ipairs(mapped_to[item] or {}) do
    if key:match("^%d+$") then
      local p = shop:product(key)
      if p then return rec:unchanged("woocommerce", p.id, { x3 = item, sku = p.sku }) end
    else
      sku = key
    end
  end
  local details = { x3 = item, sku = sku }
  local existing = shop:product_by_sku(sku)
  if existing then return rec:unchanged("woocommerce", existing.id, details) end
  local name = row[F.item_name]
  local ok, created = pcall(shop.create_product, shop, {
    name = type(name) == "string" and name ~= "" and name or item, sku = sku, status = "draft",
  })
  if ok then return rec:created("woocommerce", created.id, details) end
  if type(created) == "table" and created.code == "product_invalid_sku" then
    local found = shop:product_by_sku(sku)
    if found then return rec:unchanged("woocommerce", found.id, details) end
    rec:reject("the store refuses SKU " .. sku .. " for X3 item " .. item .. " (product_invalid_sku) and lists no "
      .. "product with it (a product in the trash may hold it): free the SKU or map the item, then replay")
  end
  error(created, 0)
end)

if s.align.products ~= "none" then
  --- Products aligned by SKU in the direction `align.products` says, store → X3 first (so an item just created
  --- is found, not sent back); each one a record, so a refusal waits for a person and a replay does it again.
  c:every(s.align.every, "align_products", function(job)
    local counts = { store = 0, x3 = 0 }
    if toward_x3[s.align.products] then
      for page in shop:product_pages() do
        mlhost.each(page, s.concurrency, function(product)
          job:record("woocommerce.product", product.id, product)
        end)
        counts.store = counts.store + #page
      end
    end
    if toward_store[s.align.products] then
      local rows = {}
      for row in erp:query("item") do rows[#rows + 1] = row end
      mlhost.each(rows, s.concurrency, function(row)
        job:record("x3.product", row[F.item_code], row)
      end)
      counts.x3 = #rows
    end
    log.info("products aligned", { direction = s.align.products, store = counts.store, x3 = counts.x3 })
  end)
end

if s.align.customers ~= "none" then
  --- Customers aligned by email in the direction `align.customers` says; each one a record, so a refusal waits
  --- for a person and a replay does it again.
  c:every(s.align.every, "align_customers", function(job)
    local both = s.align.customers == "both"
    local counts = { store = 0, x3 = 0 }
    if both or s.align.customers == "woocommerce_to_x3" then
      for page in shop:customer_pages() do
        mlhost.each(page, s.concurrency, function(customer)
          job:record("woocommerce.customer", customer.id, customer)
          counts.store = counts.store + 1
        end)
      end
    end
    if both or s.align.customers == "x3_to_woocommerce" then
      local rows = {}
      for row in erp:query("customer") do rows[#rows + 1] = row end
      mlhost.each(rows, s.concurrency, function(row)
        job:record("x3.customer", row[F.customer_code], row)
      end)
      counts.x3 = #rows
    end
    log.info("customers aligned", { direction = s.align.customers, store = counts.store, x3 = counts.x3 })
  end)
end

return c
