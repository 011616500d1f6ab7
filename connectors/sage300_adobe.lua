--- Sage 300 ↔ Adobe Commerce. On a schedule (cron, in the settings' time zone), Adobe orders and invoices changed
--- since the cursor become AR invoices in Sage 300, customers become AR customers (created or updated), and Sage 300
--- customers maintained since the last run refresh the email index. The store view decides the Sage 300 company.
--- Each run adds its invoices to one AR invoice batch per company (a new one when `batch_size` is reached), then
--- posts the batches (`ReadyToPost`) as its own step. Adobe is only read: its system is declared read-only, so the
--- host refuses any write to it. Every invoice carries the order's increment id as its DocumentNumber and is looked
--- up before it is added, so a re-run, a retry or a crash never makes a second one; a batch left open by a crash is
--- posted by the next run, and a batch is never posted twice.
local adobe_commerce = require "adobe_commerce"
local adobe_search = require "adobe_commerce.search"
local sage300 = require "sage300"
local mapping = require "sync.mapping"
local paging = require "sync.paging"
local system_error = require "sync.system_error"

local mlhost = mlhost
local money, log, time, crypto, store = mlhost.money, mlhost.log, mlhost.time, mlhost.crypto, mlhost.store
local ipairs, pairs, next, tostring, type, pcall, error = ipairs, pairs, next, tostring, type, pcall, error
local concat = table.concat

local c = mlhost.connector {
  name = "sage300_adobe",
  description = "Adobe Commerce orders, invoices and customers → Sage 300 AR invoice batches and AR customers",
  settings = require "sage300_adobe.schema",
}
local s = c.settings

-- Adobe is only read here: the host refuses any write to it before it leaves (read_only).
local shop = adobe_commerce.client {
  url = s.adobe.url, store_code = s.adobe.store_code, version = s.adobe.version, credential = s.adobe.credential,
  page_size = s.adobe.page_size,
  timeout = s.adobe.timeout, max_concurrent = s.adobe.max_concurrent, read_only = true,
}
local erp = sage300.client(s.sage300, { batch_prefix = s.batch_prefix .. " " })

local companies = mapping.new("companies", s.companies, { pattern = "^[A-Z0-9]+$" })
for view, company in pairs(s.companies) do
  local ok, problem = pcall(sage300.company, company)
  if not ok then error("companies: " .. view .. " = " .. company .. ": " .. tostring(problem)) end
end
local prefixes = mapping.new("document_prefixes", s.document_prefixes)
local revenue_accounts = mapping.new("revenue_accounts", s.revenue_accounts, { pattern = "^[%w%-]+$" })
local distribution_codes = mapping.new("distribution_codes", s.distribution_codes, { pattern = "^[%w%-]+$" })
local customer_numbers = mapping.new("customers", s.customers, { pattern = "^[A-Z0-9][A-Z0-9%-_]*$" })
if not next(s.revenue_accounts or {}) and not next(s.distribution_codes or {}) then
  error("revenue_accounts or distribution_codes: at least one mapping (with * for any SKU) is needed")
end
local prefix_ok, prefix_problem = sage300.customer_number(s.customer_prefix .. "0")
if not prefix_ok then error("customer_prefix: " .. prefix_problem) end
if #s.customer_prefix > 3 then error("customer_prefix: at most 3 characters (a number is prefix + up to 9)") end
if #s.batch_prefix > 12 then error("batch_prefix: at most 12 characters (the description holds 60)") end

local ELIGIBLE = {}
for _, state in ipairs(s.eligible_states) do ELIGIBLE[state] = true end

-- Rows of Sage 300 found valid (GL accounts, distribution codes), for five minutes; a problem is never cached, so
-- a replay after the fix sees the fix.
local known = {}

--- Why the GL account or distribution code `code` of `company` cannot take revenue, or nil.
---@param company string
---@param kind "account"|"distribution"
---@param code string
---@return string?
local function gl_problem(company, kind, code)
  local key = company .. "/" .. kind .. "/" .. code
  local hit = known[key]
  if hit and time.now() - hit < 300 then return nil end
  local problem
  if kind == "account" then
    local row = erp:gl_account(company, code)
    if not row then
      problem = "GL account " .. code .. " does not exist in Sage 300 company " .. company
    elseif row.Status ~= "Active" then
      problem = "GL account " .. code .. " is " .. tostring(row.Status) .. " in Sage 300 company " .. company
    end
  else
    local row = erp:distribution_code(company, code)
    if row == false then
      -- This server cannot be asked: the insert checks the code, and refuses the invoice with Sage 300's reason.
      if not known[key] then
        log.warn("AR/ARDistributionCodes is not served; distribution code ", code, " is checked when inserted")
      end
    elseif not row then
      problem = "distribution code " .. code .. " does not exist in Sage 300 company " .. company
    elseif row.Status and row.Status ~= "Active" then
      problem = "distribution code " .. code .. " is " .. tostring(row.Status) .. " in Sage 300 company " .. company
    elseif row.GLAccount then
      problem = gl_problem(company, "account", row.GLAccount)
      if problem then problem = problem .. " (distribution code " .. code .. ")" end
    end
  end
  if not problem then known[key] = time.now() end
  return problem
end

--- Where the revenue of `sku` goes in `company`: a distribution code or a GL account, from the mapping tables
--- (COMPANY/SKU, then SKU, then *).
---@return {DistributionCode: string?, RevenueAccount: string?}? field
---@return string? kind
---@return string? code
local function revenue_of(company, sku)
  for _, key in ipairs({ company .. "/" .. sku, sku, company .. "/*", "*" }) do
    local dist = distribution_codes:get(key)
    if dist then return { DistributionCode = dist }, "distribution", dist end
    local account = revenue_accounts:get(key)
    if account then return { RevenueAccount = account }, "account", account end
  end
  return nil
end

--- A fixed line (freight, tax): its field, kind and code.
local function fixed_line(setting)
  if setting.distribution_code then return { DistributionCode = setting.distribution_code }, "distribution",
    setting.distribution_code end
  if setting.account then return { RevenueAccount = setting.account }, "account", setting.account end
  return nil
end

local function decimal(v)
  if v == nil or v == mlhost.json.null then return money.new("0") end
  return money.new(v)
end

-- Store views by id (their codes name the company): the store_views setting when set; else asked once per version of
-- the script from /V1/store/storeViews, a route the API facts do not promise (a store without it answers 404).
local views
local views_problem
if next(s.store_views or {}) then
  views = {}
  for id, view in pairs(s.store_views) do views[tostring(id)] = view end
end

---@param store_id integer
---@return string? code
---@return string? problem when the views cannot be read
local function view_code(store_id)
  if not views and not views_problem then
    local ok, res = pcall(shop.call, shop, "read store views", "/store/storeViews")
    if not ok then
      if system_error.is(res, "not_found") or system_error.is(res, "auth") then
        views_problem = "Adobe Commerce does not list its store views (/V1/store/storeViews: "
          .. tostring(res.message) .. "); set store_views (store_id → store view code)"
        return nil, views_problem
      end
      error(res, 0)
    end
    local found = {}
    for _, v in ipairs(res.json or {}) do found[tostring(v.id)] = v.code end
    views = found
  end
  if views_problem then return nil, views_problem end
  return views[tostring(store_id)]
end

--- The company of an order or customer, by its store view; nil and why when that view is not synced (and true when
--- no view can be known: the record is rejected then, not skipped).
local function company_of(store_id)
  local code, problem = view_code(store_id)
  if problem then return nil, nil, problem, true end
  if not code then
    return nil, nil, "store view " .. tostring(store_id) .. " is unknown to Adobe Commerce (store_views)"
  end
  local company = companies:get(code)
  if not company then return nil, code, "store view " .. code .. " is not mapped to a Sage 300 company (companies)" end
  return company, code
end

-- Customers ---------------------------------------------------------------------------------------------------

local function index_key(company, email) return "customer:" .. company .. ":" .. email:lower() end

--- The number a customer gets when this connector creates it: prefix + Adobe customer id, or for a guest prefix +
--- G + a digest of the email (the same email always gives the same number, so a re-run finds it).
---@param info {id: integer?, email: string}
---@return string
local function new_number(info)
  if info.id and info.id ~= mlhost.json.null and tostring(info.id) ~= "0" then
    return s.customer_prefix .. tostring(info.id)
  end
  return s.customer_prefix .. "G" .. crypto.sha256(info.email:lower(), "hex"):sub(1, 11 - #s.customer_prefix):upper()
end

--- ARCustomers fields from the Adobe side.
local function customer_fields(info)
  local b = info.billing or {}
  local name = concat({ info.first or b.firstname or "", info.last or b.lastname or "" }, " "):match("^%s*(.-)%s*$")
  local fields = { CustomerName = name ~= "" and name or info.email, Email = info.email }
  local street = b.street
  if type(street) == "table" then
    fields.AddressLine1, fields.AddressLine2 = street[1], street[2]
  end
  fields.City, fields.ZipPostalCode, fields.Country = b.city, b.postcode, b.country_id
  fields.PhoneNumber = b.telephone
  for k, v in pairs(fields) do
    if v == mlhost.json.null or v == "" then fields[k] = nil end
  end
  return fields
end

--- The Sage 300 customer of `info` in `company`: by the mapping table (email or Adobe id), by the email index,
--- by email in Sage 300, by the number this connector gives; created when missing, updated when its name or
--- address changed in Adobe (only customers this connector numbered). Answers the number and what happened.
---@param company string
---@param info {id: integer?, email: string, first: string?, last: string?, billing: table?}
---@return string number
---@return "created"|"updated"|"unchanged" outcome
local function ensure_customer(company, info)
  local mapped = customer_numbers:get(company .. "/" .. info.email:lower()) or customer_numbers:get(info.email:lower())
    or (info.id and customer_numbers:get(tostring(info.id)))
  if mapped then return mapped, "unchanged" end
  local number = new_number(info)
  local row
  local indexed = store.get(index_key(company, info.email))
  if indexed then row = erp:customer(company, indexed) end
  row = row or erp:customer_by_email(company, info.email) or erp:customer(company, number)
  local fields = customer_fields(info)
  if not row then
    local body = { CustomerNumber = number }
    for k, v in pairs(s.customer_defaults) do body[k] = v end
    body.ShortName = number
    for k, v in pairs(fields) do body[k] = v end
    local created, found = erp:create_customer(company, body)
    store.set(index_key(company, info.email), created.CustomerNumber)
    return created.CustomerNumber, found and "unchanged" or "created"
  end
  store.set(index_key(company, info.email), row.CustomerNumber)
  if not s.update_customers or row.CustomerNumber:sub(1, #s.customer_prefix) ~= s.customer_prefix then
    return row.CustomerNumber, "unchanged"
  end
  local changes, any = {}, false
  local fitted = sage300.fit(fields)
  for k, v in pairs(fitted) do
    if row[k] ~= v then changes[k], any = v, true end
  end
  if not any then return row.CustomerNumber, "unchanged" end
  erp:update_customer(company, row.CustomerNumber, changes)
  return row.CustomerNumber, "updated"
end

c:handler("adobe.customer", function(rec, customer)
  local company, view, why, fatal = company_of(customer.store_id)
  if fatal then return rec:reject("customer " .. tostring(customer.id) .. ": " .. why) end
  if not company then return rec:unchanged("sage300", nil, { skipped = why, view = view }) end
  local number, outcome = ensure_customer(company, {
    id = customer.id, email = customer.email, first = customer.firstname, last = customer.lastname,
    billing = (customer.addresses or {})[1],
  })
  local details = { company = company, email = customer.email }
  if outcome == "created" then return rec:created("sage300", company .. "/" .. number, details) end
  if outcome == "updated" then return rec:updated("sage300", company .. "/" .. number, details) end
  return rec:unchanged("sage300", company .. "/" .. number, details)
end)

-- A customer changed in Sage 300 (a person gave it an email, or changed it): the index learns it, so the next
-- order with that email goes to that customer.
c:handler("sage300.customer", function(rec, row)
  local email = row.Email
  if type(email) ~= "string" or email == "" then
    return rec:unchanged("sage300", row.company .. "/" .. row.CustomerNumber, { skipped = "no email" })
  end
  local key = index_key(row.company, email)
  local before = store.get(key)
  store.set(key, row.CustomerNumber)
  local details = { email = email, was = before }
  if before == row.CustomerNumber then
    return rec:unchanged("sage300", row.company .. "/" .. row.CustomerNumber, details)
  end
  return rec:updated("sage300", row.company .. "/" .. row.CustomerNumber, details)
end)

-- Batches -----------------------------------------------------------------------------------------------------

-- The runs in progress in this VM: their open batches per company, until the run posts them. A record processed
-- outside a run (a retry, a replay) has none and gets a batch of its own.
local runs = {}

local function batch_lock(company) return "sage300 batch " .. company end

--- The invoice `body` added to a batch of `company`: the run's open one (a new one at the start or when it is
--- full), or for a record outside a run a batch of its own, posted at once. Answers where it landed.
---@param run table?
---@param company string
---@param body table
---@return {batch: integer, entry: integer, status: string}
---@return boolean? found it was there already (an earlier attempt added it)
local function add_to_batch(run, company, body)
  local day = time.format(time.now(), "date", s.time_zone)
  local function alone()
    local description = s.batch_prefix .. " " .. body.DocumentNumber .. " " .. crypto.uuid():sub(1, 8)
    local batch, found = erp:create_batch(company, {
      BatchDate = day, Description = description, Invoices = { body },
    })
    if found then
      local where = erp:invoice_by_document(company, body.DocumentNumber, body.CustomerNumber)
      if where then return where, true end
    end
    erp:post_batch(company, batch.BatchNumber)
    local entry = (batch.Invoices and batch.Invoices[1] or {}).EntryNumber or 1
    return { batch = batch.BatchNumber, entry = entry, status = "ReadyToPost" }
  end
  if not run then return alone() end
  mlhost.lock(batch_lock(company))
  local ok, where, found = pcall(function()
    -- Checked under the lock: once the run has begun posting, its batches take nothing more.
    if run.closed then return nil end
    local list = run.batches[company] or {}
    run.batches[company] = list
    local open = list[#list]
    if open and open.count < s.batch_size then
      local w, f = erp:add_invoice(company, open.number, body)
      if not f then open.count = open.count + 1 end
      return w, f
    end
    local description = s.batch_prefix .. " " .. run.id .. " " .. company .. " " .. (#list + 1)
    local batch, f = erp:create_batch(company, { BatchDate = day, Description = description, Invoices = { body } })
    list[#list + 1] = { number = batch.BatchNumber, count = #(batch.Invoices or { body }) }
    local entry = batch.Invoices and batch.Invoices[1] and batch.Invoices[1].EntryNumber or 1
    return { batch = batch.BatchNumber, entry = entry, status = batch.BatchStatus or "Open" }, f
  end)
  mlhost.unlock(batch_lock(company))
  if not ok then error(where, 0) end
  if where == nil then return alone() end
  return where, found
end

-- Orders ------------------------------------------------------------------------------------------------------

--- The AR invoice of `order` for `company` and `customer`, with its GL lines; `reject` parks the record.
---@return table body
---@return table allocation
local function build_invoice(reject, order, company, customer, document)
  local details, allocation = {}, {}
  local sum = money.new("0")
  local function line(field, kind, code, amount, description)
    local problem = gl_problem(company, kind, code)
    if problem then reject(problem .. " (" .. description .. ")") end
    local d = { Description = description:sub(1, 60), ExtendedAmountWithTIP = amount }
    for k, v in pairs(field) do d[k] = v end
    details[#details + 1] = d
    allocation[#allocation + 1] = { [kind] = code, amount = money.format(amount, 2), line = description }
    sum = sum + amount
  end
  local goods = money.new("0")
  -- One line per parent row: a configurable product's child row carries no price (its SKU is kept as child_sku).
  for i, item in ipairs(order.lines or {}) do
    local sku = item.child_sku or item.sku
    local discount = decimal(item.discount)
    if money.cmp(discount, 0) < 0 then discount = money.mul(discount, -1) end
    local net = decimal(item.row_total) - discount
    goods = goods + decimal(item.row_total)
    local field, kind, code = revenue_of(company, sku)
    if not field then reject("no revenue account or distribution code mapped for SKU " .. tostring(sku)) end
    if money.cmp(net, 0) ~= 0 then line(field, kind, code, net, "line " .. i .. " " .. tostring(sku)) end
  end
  local shipping = decimal(order.shipping)
  if money.cmp(shipping, 0) ~= 0 then
    local field, kind, code = fixed_line(s.freight)
    if not field then reject("it has shipping but no freight account or distribution code is set (freight)") end
    line(field, kind, code, shipping, "shipping")
  end
  local tax = decimal(order.tax)
  if money.cmp(tax, 0) ~= 0 then
    local field, kind, code = fixed_line(s.tax)
    if not field then reject("it has tax but no tax account or distribution code is set (tax)") end
    line(field, kind, code, tax, "tax")
  end
  local total = decimal(order.total)
  if money.cmp(sum, total) ~= 0 then
    reject("totals do not reconcile: items " .. money.format(goods, 2) .. " − discounts + shipping "
      .. money.format(shipping, 2) .. " + tax " .. money.format(tax, 2) .. " = " .. money.format(sum, 2)
      .. " but the order's grand_total is " .. money.format(total, 2))
  end
  if #details == 0 then reject("it has nothing to invoice (total 0)") end
  local created = order.created_at and time.parse(order.created_at, "UTC")
  local day = created and time.format(created, "date", s.time_zone) or tostring(order.created_at):sub(1, 10)
  return {
    CustomerNumber = customer, DocumentType = "Invoice", DocumentNumber = document, DocumentDate = day,
    PostingDate = day, InvoiceDescription = ("Adobe order " .. tostring(order.increment_id)):sub(1, 60),
    OrderNumber = tostring(order.increment_id):sub(1, 22), DocumentTotalIncludingTax = total,
    InvoiceDetails = details,
  }, allocation
end

c:handler("adobe.order", function(rec, input)
  local order = input.order
  local function reject(reason) rec:reject("order " .. tostring(order.increment_id) .. ": " .. reason) end
  local company, view, why, fatal = company_of(order.store_id)
  if fatal then return reject(why) end
  if not company then return rec:unchanged("sage300", nil, { skipped = why, view = view }) end
  local document = (prefixes:get(view) or "") .. tostring(order.increment_id)
  if #document > sage300.DOCUMENT_LENGTH then
    reject("DocumentNumber " .. document .. " is longer than " .. sage300.DOCUMENT_LENGTH .. " characters")
  end
  -- Looked up before anything is written: a re-run, a retry after a crash or an ambiguous failure finds it.
  local existing = erp:invoice_by_document(company, document)
  if existing then
    local id = company .. "/" .. existing.batch .. "-" .. existing.entry
    if rec:target_id("sage300") then return rec:unchanged("sage300", id, { batch = existing.batch }) end
    return rec:created("sage300", id, { document = document, batch = existing.batch, found_by_document = true })
  end
  if order.state == "canceled" or order.state == "closed" then
    return rec:unchanged("sage300", nil, { skipped = "order is " .. order.state .. " and was never invoiced" })
  end
  if not ELIGIBLE[order.state] then
    return rec:unchanged("sage300", nil, { waiting = "state " .. tostring(order.state)
      .. " is not invoiced (eligible_states); the order is taken up again when it changes" })
  end
  local email = order.email
  if type(email) ~= "string" or email == "" then reject("it has no customer email to find its Sage 300 customer by") end
  local who = order.customer or {}
  local customer, customer_outcome = ensure_customer(company, {
    id = not who.guest and who.id or nil, email = email, first = who.first_name, last = who.last_name,
    billing = order.billing,
  })
  local body, allocation = build_invoice(reject, order, company, customer, document)
  local ok, where, found = pcall(add_to_batch, runs[input.run], company, body)
  if not ok then
    if system_error.is(where, "business") then reject("Sage 300 refused the invoice: " .. where.message) end
    error(where, 0)
  end
  return rec:created("sage300", company .. "/" .. where.batch .. "-" .. where.entry, {
    company = company, document = document, batch = where.batch, entry = where.entry, customer = customer,
    customer_outcome = customer_outcome, total = money.format(body.DocumentTotalIncludingTax, 2), gl = allocation,
    found_by_document = found or nil,
  })
end)

-- The run ---------------------------------------------------------------------------------------------------

-- Timestamps have whole seconds: the cursor remembers what it handled at its last second by id and version.
local function order_version(o)
  return tostring(o.id) .. "/" .. tostring(o.state) .. "/" .. tostring(o.updated_at)
end

--- Posts the batches this connector left open (a run that stopped between adding and posting), except those of
--- runs in progress here.
local function post_leftovers()
  for _, company in ipairs(companies:values()) do
    for _, batch in ipairs(erp:open_batches(company, s.batch_prefix .. " ")) do
      local active = false
      for id in pairs(runs) do
        if tostring(batch.Description):find(id, 1, true) then active = true end
      end
      if not active then
        -- Under the company's lock: two runs that both find the batch open (a job taken over after a crash beside
        -- the next scheduled one) post it once; the second reads it ready.
        mlhost.lock(batch_lock(company))
        local ok, status, changed = pcall(erp.post_batch, erp, company, batch.BatchNumber)
        mlhost.unlock(batch_lock(company))
        if not ok then error(status, 0) end
        log.info("a batch left open was posted", { company = company, batch = batch.BatchNumber, status = status,
          changed = changed })
      end
    end
  end
end

--- Sage 300 customers maintained since the last run (DateLastMaintained is a date: the boundary day is read
--- again, and the versions already handled that day are skipped).
local function pull_sage_customers(job)
  for _, company in ipairs(companies:values()) do
    local cursor = sage300.day_cursor(job, "sage300_customers@" .. company)
    local rows = {}
    for row in erp:changed_since(company, "AR/ARCustomers", "DateLastMaintained", "CustomerNumber", cursor.day,
      { "CustomerNumber", "Email", "CustomerName", "DateLastMaintained" }) do
      local version = row.CustomerNumber .. "/" .. tostring(row.Email) .. "/" .. tostring(row.CustomerName)
      if not cursor:was_seen(row.DateLastMaintained, version) then rows[#rows + 1] = { row, version } end
    end
    for _, pair in ipairs(rows) do
      local row = pair[1]
      row.company = company
      job:record("sage300.customer", company .. "/" .. row.CustomerNumber, row)
      cursor:advance(row.DateLastMaintained, pair[2])
    end
    cursor:save()
    log.info("Sage 300 customers read", { company = company, changed = #rows, day = cursor.day })
  end
end

local function pull_adobe_customers(job)
  local cursor = paging.time_cursor(job, "adobe_customers", s.customers_since)
  local function at(customer) return adobe_commerce.iso(customer.updated_at) end
  local function version(customer) return tostring(customer.id) .. "/" .. tostring(customer.updated_at) end
  paging.pipeline(paging.chunks(shop:customers_changed_since(cursor.at), s.adobe.page_size), s.concurrency,
    function(customer)
      if not cursor:seen(at(customer), version(customer)) then
        job:record("adobe.customer", tostring(customer.id), customer)
      end
    end, function(page)
      for _, customer in ipairs(page) do cursor:advance(at(customer), version(customer)) end
      cursor:save()
    end)
end

--- What an order record keeps for a replay: the normalised order without Magento's raw copy.
local function record_input(order, run)
  local kept = {}
  for k, v in pairs(order) do
    if k ~= "raw" then kept[k] = v end
  end
  return { order = kept, run = run.id }
end

local function pull_orders(job, run)
  local cursor = paging.time_cursor(job, "adobe_orders", s.orders_since)
  local count = 0
  paging.pipeline(paging.chunks(shop:orders_changed_since(cursor.at), s.adobe.page_size), s.concurrency,
    function(order)
      run.orders[order.id] = true
      if not cursor:seen(order.updated_at, order_version(order)) then
        job:record("adobe.order", order.increment_id, record_input(order, run))
        count = count + 1
      end
    end, function(page)
    for _, order in ipairs(page) do cursor:advance(order.updated_at, order_version(order)) end
    cursor:save()
  end)
  -- Invoices issued since the last run: their orders, which may not have changed otherwise.
  local invoices = paging.time_cursor(job, "adobe_invoices", s.orders_since)
  local criteria = adobe_search.new()
  if invoices.at then criteria:where("updated_at", "gteq", adobe_commerce.magento_time(invoices.at)) end
  criteria:sort("updated_at", "ASC"):sort("entity_id", "ASC")
  local function at(invoice) return adobe_commerce.iso(invoice.updated_at) end
  local function version(invoice) return tostring(invoice.entity_id) .. "/" .. tostring(invoice.updated_at) end
  paging.pipeline(paging.chunks(shop:search("/invoices", criteria), s.adobe.page_size), s.concurrency,
    function(invoice)
      -- An invoice of an order this run already took up brings nothing new.
      if not invoices:seen(at(invoice), version(invoice)) and not run.orders[invoice.order_id] then
        local order = shop:order(invoice.order_id)
        if order then
          job:record("adobe.order", order.increment_id, record_input(order, run))
          count = count + 1
        end
      end
    end, function(page)
      for _, invoice in ipairs(page) do invoices:advance(at(invoice), version(invoice)) end
      invoices:save()
    end)
  return count
end

--- Posting, its own step: every batch this run filled, once.
local function post_run(run)
  local posted = {}
  for _, company in ipairs(companies:values()) do
    mlhost.lock(batch_lock(company))
    run.closed = true
    mlhost.unlock(batch_lock(company))
    for _, batch in ipairs(run.batches[company] or {}) do
      local status, changed = erp:post_batch(company, batch.number)
      posted[#posted + 1] = { company = company, batch = batch.number, invoices = batch.count, status = status,
        changed = changed }
    end
  end
  return posted
end

local function sync(job)
  local run = { id = tostring(job.run_id), batches = {}, orders = {} }
  runs[run.id] = run
  local ok, err = pcall(function()
    post_leftovers()
    pull_sage_customers(job)
    pull_adobe_customers(job)
    local count = pull_orders(job, run)
    local posted = post_run(run)
    log.info("Adobe orders synced to Sage 300", { orders = count, batches = posted })
  end)
  runs[run.id] = nil
  if not ok then error(err, 0) end
end

c:cron(s.schedule, "sync", sync, { tz = s.time_zone })

return c
