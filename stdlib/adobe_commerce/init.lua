--- Adobe Commerce (Magento 2) REST client (API facts §3): `/rest/V1` or `/rest/<store_code>/V1`, searches with
--- `searchCriteria` over every page (2.4 answers a page past the end with no items, 2.3 with the last page again:
--- both end the walk), orders, invoices, shipments, customers and products. Money arrives as JSON numbers and is
--- read as exact decimals, never through a binary float. Magento's templated errors (`%1`, `%name`) are rendered
--- from their `parameters`. Authentication is the host's, by credential name (the script never sees a secret):
--- an `oauth1` integration (HMAC-SHA256; a credential with `signature_method = "HMAC-SHA1"` for stores up to
--- 2.4.3), an `adobe_admin` login whose 4-hour token the host fetches and refreshes before it expires, or a
--- `bearer` integration token where the store allows tokens as bearers. 429 and 502/503/504 are retried by the host
--- within the system's shared budgets; other failures raise `system_error`s.
local mlhost = mlhost
local http, money, json = mlhost.http, mlhost.money, mlhost.json
local system_error = require "sync.system_error"
local search = require "adobe_commerce.search"
local ipairs, pairs, tostring, tonumber, type, setmetatable = ipairs, pairs, tostring, tonumber, type, setmetatable
local error, pcall = error, pcall
local concat = table.concat

local _M = {}

_M.search = search.new

---@class adobe_commerce.Client
---@field system string the `mlhost.http.system` every request goes through
---@field store string? the store code in the URL (nil: `/rest/V1`, the default store)
---@field version string the store's Magento version ("2.4.6")
---@field page_size integer
local Client = {}
Client.__index = Client

--- Whether dotted version `a` is below `b`.
---@param a string
---@param b string
---@return boolean
function _M.version_below(a, b)
  local x, y = {}, {}
  for n in tostring(a):gmatch("%d+") do x[#x + 1] = tonumber(n) end
  for n in tostring(b):gmatch("%d+") do y[#y + 1] = tonumber(n) end
  for i = 1, math.max(#x, #y) do
    local p, q = x[i] or 0, y[i] or 0
    if p ~= q then return p < q end
  end
  return false
end

--- A client for one store. `settings`: `url` (the store's base URL, with `/index.php` if the store needs it),
--- `store_code` (`default`, `all`, a store view's code, or nil for `/rest/V1`), `version` (default "2.4.6"; below
--- 2.4.4 the store only takes HMAC-SHA1 signatures, which the credential must then say), `credential`, `page_size`
--- (default 100; at most 300 where the store's Web API input limits are on), `name` (the system's name, default
--- "adobe"), `read_only` (the host refuses every write to the store: a connector that only reads it), and `timeout`,
--- `max_concurrent`, `rate`, `retries`, TLS (`ca_bundle`, `verify_tls`) and `proxy`.
---@param settings table
---@return adobe_commerce.Client
function _M.client(settings)
  if type(settings) ~= "table" or type(settings.url) ~= "string" or settings.url == "" then
    error("adobe_commerce: settings.url (the store's base URL) is required", 2)
  end
  local page_size = settings.page_size or 100
  if math.type(page_size) ~= "integer" or page_size < 1 or page_size > 300 then
    error("adobe_commerce: page_size must be 1 to 300 (Magento's input limit)", 2)
  end
  local store = settings.store_code
  if store ~= nil and (type(store) ~= "string" or not store:match("^[%w_]+$")) then
    error("adobe_commerce: store_code must be a store code (letters, digits, _)", 2)
  end
  local base = settings.url:gsub("/+$", "")
  local system = http.system {
    name = settings.name or "adobe", base_url = base .. "/rest", credential = settings.credential,
    timeout = settings.timeout, max_concurrent = settings.max_concurrent or 4, rate = settings.rate,
    read_only = settings.read_only,
    burst = settings.rate and math.max(1, settings.rate // 2) or nil, retries = settings.retries,
    ca_bundle = settings.ca_bundle, verify_tls = settings.verify_tls, proxy = settings.proxy,
  }
  return setmetatable({
    system = system, store = store, version = settings.version or "2.4.6", page_size = page_size,
  }, Client)
end

--- The same store through another store view's URL (`/rest/<code>/V1`): its prices and names.
---@param code string? nil: `/rest/V1`
---@return adobe_commerce.Client
function Client:with_store(code)
  local other = setmetatable({}, Client)
  for k, v in pairs(self) do other[k] = v end
  other.store = code
  return other
end

--- Whether this store answers a page past the end with the last page again (Magento before 2.4.0).
---@return boolean
function Client:repeats_last_page()
  return _M.version_below(self.version, "2.4.0")
end

--- Magento's message with its placeholders filled: `%1`, `%2`… from a list, `%name` from an object.
---@param message string
---@param parameters table?
---@return string
function _M.render(message, parameters)
  if type(message) ~= "string" then return tostring(message) end
  if type(parameters) ~= "table" then return message end
  return (message:gsub("%%(%w+)", function(name)
    local v = parameters[tonumber(name) or name]
    if v == nil or v == json.null then return nil end
    return tostring(v)
  end))
end

--- The rendered text of a Magento error body (its `message`, and those of `errors`), or nil.
---@param body any
---@return string?
function _M.describe(body)
  if type(body) ~= "table" or type(body.message) ~= "string" then return nil end
  local out = { _M.render(body.message, body.parameters) }
  for _, e in ipairs(type(body.errors) == "table" and body.errors or {}) do
    if type(e) == "table" and e.message then out[#out + 1] = _M.render(e.message, e.parameters) end
  end
  return concat(out, "; ")
end

local function raise(fields)
  fields.system = "adobe"
  system_error.raise(fields)
end

--- Checks one exchange. 400 is Magento refusing the content (business: parked, not retried) — except a refused
--- signature method, which is configuration; 5xx is retried, and for a write it is ambiguous (it may have
--- committed before failing): look the record up before sending it again.
---@param what string
---@param res table?
---@param token string?
---@param detail table?
---@param mutating boolean?
---@return table res
function _M.check(what, res, token, detail, mutating)
  if res and res.status >= 500 then
    local text = _M.describe(res.json)
    raise({
      kind = "http", status = res.status, retryable = true, ambiguous = mutating == true, retry_after = res.retry_after,
      message = "adobe: " .. what .. " answered " .. res.status .. (text and (": " .. text) or ""),
    })
  end
  if res and res.status == 400 then
    local text = _M.describe(res.json) or ("HTTP " .. res.status)
    if type(res.json) == "table" and tostring(res.json.message):find("^Signature method") then
      raise({ kind = "auth", status = 400, retryable = false,
        message = "adobe: " .. what .. ": " .. text .. " (2.4.4 and later take HMAC-SHA256 only; a store up to 2.4.3"
          .. " needs the credential's signature_method = HMAC-SHA1)" })
    end
    raise({ kind = "business", status = 400, retryable = false, message = "adobe: " .. what .. " refused: " .. text })
  end
  return system_error.check("adobe", what, res, token, detail, function(r) return _M.describe(r.json) end)
end

--- A path segment (a SKU may hold `/`, spaces, unicode) percent-encoded.
---@param segment string
---@return string
function _M.escape(segment)
  return (tostring(segment):gsub("[^%w%-%._~]", function(ch) return string.format("%%%02X", ch:byte()) end))
end

local function path(self, p)
  return (self.store and ("/" .. self.store) or "") .. "/V1" .. p
end

--- One request under `/V1` (store code prefixed); answers the response. `opts`: `method`, `query`, `json`.
---@param what string for messages
---@param p string the path after /V1 ("/orders")
---@param opts table?
---@return table res
function Client:call(what, p, opts)
  opts = opts or {}
  local method = opts.method or "GET"
  local res, token, detail = http.request {
    system = self.system, method = method, path = path(self, p), query = opts.query, json = opts.json, decimals = true,
  }
  return _M.check(what, res, token, detail, method ~= "GET")
end

--- Page `page` of a search: its items and `total_count`.
---@param resource string "/orders", "/invoices", "/shipments", "/customers/search", "/products"
---@param criteria adobe_commerce.Criteria?
---@param page integer?
---@return table[] items
---@return integer total
function Client:search_page(resource, criteria, page)
  criteria = criteria or search.new()
  if not criteria.size then criteria:page_size(self.page_size) end
  local res = self:call("search " .. resource, resource, { query = criteria:query(page or 1) })
  local body = type(res.json) == "table" and res.json or {}
  local items = type(body.items) == "table" and body.items or {}
  return items, math.tointeger(body.total_count) or #items
end

--- Every item of a search, page after page, in the criteria's order. The walk ends at `total_count`, at an empty
--- page (2.4), or at a page that brings nothing new (2.3 repeating its last page); `key` names the id field that
--- tells items apart (default `entity_id`, `id` for customers and products).
---@param resource string
---@param criteria adobe_commerce.Criteria?
---@param key string?
---@return fun(): table?
function Client:search(resource, criteria, key)
  criteria = criteria or search.new()
  if not criteria.size then criteria:page_size(self.page_size) end
  key = key or ((resource == "/products" or resource == "/customers/search") and "id" or "entity_id")
  local page, items, i, seen, done = 0, {}, 0, {}, false
  return function()
    while true do
      if i < #items then
        i = i + 1
        return items[i]
      end
      if done then return nil end
      page = page + 1
      local got, total = self:search_page(resource, criteria, page)
      local fresh = {}
      for _, item in ipairs(got) do
        local id = tostring(item[key])
        if not seen[id] then
          seen[id] = true
          fresh[#fresh + 1] = item
        end
      end
      if #got == 0 or #fresh == 0 or page * criteria.size >= total then done = true end
      items, i = fresh, 0
    end
  end
end

-- Orders ---------------------------------------------------------------------------------------------------------

---@class adobe_commerce.OrderLine
---@field item_id integer the order row to ship or invoice (a configurable product's parent row)
---@field sku string
---@field name string
---@field product_type string simple, configurable, …
---@field quantity integer qty_ordered
---@field shipped integer qty_shipped
---@field invoiced integer qty_invoiced
---@field canceled integer qty_canceled
---@field price mlhost.Decimal unit price before tax
---@field row_total mlhost.Decimal before tax
---@field tax mlhost.Decimal
---@field tax_percent mlhost.Decimal
---@field discount mlhost.Decimal
---@field child_sku string? the simple product chosen, for a configurable line

---@class adobe_commerce.Order
---@field id integer entity_id
---@field increment_id string the order number people see
---@field store_id integer
---@field state string
---@field status string
---@field created_at string ISO 8601 (UTC)
---@field updated_at string ISO 8601 (UTC)
---@field updated_at_raw string as Magento wrote it ("YYYY-MM-DD HH:MM:SS"), for a search filter
---@field email string?
---@field customer {id: integer?, email: string?, first_name: string?, last_name: string?, guest: boolean}
---@field currency string
---@field subtotal mlhost.Decimal
---@field tax mlhost.Decimal
---@field shipping mlhost.Decimal before tax
---@field shipping_tax mlhost.Decimal
---@field discount mlhost.Decimal
---@field total mlhost.Decimal grand_total
---@field payment_method string?
---@field po_number string? the buyer's purchase order number (payment method `purchaseorder`)
---@field lines adobe_commerce.OrderLine[] one per parent row: a configurable child ships and bills with its parent
---@field billing table?
---@field raw table the order as Magento sent it

local function present(v) return v ~= nil and v ~= json.null end

--- An amount from a JSON number read in decimal mode (an integer or an exact decimal) or a string; never a float.
---@param v any
---@return mlhost.Decimal
function _M.amount(v)
  if not present(v) then return money.new("0") end
  if math.type(v) == "float" then
    error("adobe_commerce: an amount arrived as a binary float; request it with decimals = true", 2)
  end
  return money.new(v)
end
local amount = _M.amount

local function integer(v)
  if not present(v) then return 0 end
  if math.type(v) == "integer" then return v end
  return math.tointeger(tonumber(tostring(v))) or 0
end

--- Magento's "YYYY-MM-DD HH:MM:SS" (UTC) as ISO 8601.
---@param text string?
---@return string?
function _M.iso(text)
  if not present(text) then return nil end
  local d, t = tostring(text):match("^(%d%d%d%d%-%d%d%-%d%d)[ T](%d%d:%d%d:%d%d)")
  return d and (d .. "T" .. t .. "Z") or tostring(text)
end

--- ISO 8601 (UTC) as Magento's "YYYY-MM-DD HH:MM:SS", for filters on `updated_at`.
---@param iso string
---@return string
function _M.magento_time(iso)
  local d, t = tostring(iso):match("^(%d%d%d%d%-%d%d%-%d%d)T(%d%d:%d%d:%d%d)")
  return d and (d .. " " .. t) or tostring(iso)
end

--- An order resource (GET /V1/orders/{id}, a search item, a webhook's order) as an `adobe_commerce.Order`.
---@param o table
---@return adobe_commerce.Order
function _M.normalize_order(o)
  local lines, children = {}, {}
  for _, row in ipairs(o.items or {}) do
    if present(row.parent_item_id) then children[integer(row.parent_item_id)] = row end
  end
  for _, row in ipairs(o.items or {}) do
    if not present(row.parent_item_id) then
      local child = children[integer(row.item_id)]
      lines[#lines + 1] = {
        item_id = integer(row.item_id), sku = row.sku, name = row.name, product_type = row.product_type,
        quantity = integer(row.qty_ordered), shipped = integer(row.qty_shipped), invoiced = integer(row.qty_invoiced),
        canceled = integer(row.qty_canceled), price = amount(row.price), row_total = amount(row.row_total),
        tax = amount(row.tax_amount), tax_percent = amount(row.tax_percent), discount = amount(row.discount_amount),
        child_sku = child and child.sku or nil,
      }
    end
  end
  local payment = type(o.payment) == "table" and o.payment or {}
  -- `shipping_tax_amount` is not in every order resource (the API facts' example has only the order's and the
  -- lines' `tax_amount`): without it, the shipping's tax is what the lines' tax leaves of the order's.
  local shipping_tax = amount(o.shipping_tax_amount)
  if not present(o.shipping_tax_amount) then
    shipping_tax = amount(o.tax_amount)
    for _, line in ipairs(lines) do shipping_tax = shipping_tax - line.tax end
  end
  return {
    id = integer(o.entity_id), increment_id = tostring(o.increment_id), store_id = integer(o.store_id), state = o.state,
    status = o.status, created_at = _M.iso(o.created_at), updated_at = _M.iso(o.updated_at),
    updated_at_raw = present(o.updated_at) and o.updated_at or nil,
    email = present(o.customer_email) and o.customer_email or nil,
    customer = {
      id = present(o.customer_id) and integer(o.customer_id) or nil,
      email = present(o.customer_email) and o.customer_email or nil,
      first_name = present(o.customer_firstname) and o.customer_firstname or nil,
      last_name = present(o.customer_lastname) and o.customer_lastname or nil,
      guest = integer(o.customer_is_guest) == 1,
    },
    currency = o.order_currency_code, subtotal = amount(o.subtotal), tax = amount(o.tax_amount),
    shipping = amount(o.shipping_amount), shipping_tax = shipping_tax,
    discount = amount(o.discount_amount), total = amount(o.grand_total),
    payment_method = present(payment.method) and payment.method or nil,
    po_number = present(payment.po_number) and payment.po_number ~= "" and payment.po_number or nil,
    lines = lines, billing = present(o.billing_address) and o.billing_address or nil, raw = o,
  }
end

--- Order `id` (entity_id), or nil when the store has none.
---@param id integer|string
---@return adobe_commerce.Order?
function Client:order(id)
  local ok, res = pcall(self.call, self, "read order " .. tostring(id), "/orders/" .. tostring(id))
  if ok then return _M.normalize_order(res.json) end
  if system_error.is(res, "not_found") then return nil end
  error(res, 0)
end

--- The order whose number is `increment_id`, or nil.
---@param increment_id string
---@return adobe_commerce.Order?
function Client:order_by_increment_id(increment_id)
  local items = self:search_page("/orders", search.new():where("increment_id", "eq", increment_id):page_size(1))
  return items[1] and _M.normalize_order(items[1]) or nil
end

--- Items of `resource` changed at or after `since` (Magento time), oldest change first, then by `key`: walked by
--- keyset, never by page number, so records that change while the walk runs (a shipment bumps its order's
--- `updated_at`) move to its end instead of shifting an unseen record past a page boundary, and a page past the end
--- (empty on 2.4, the last page again on 2.3) is never asked for. Each query is page 1 of either the rest of the
--- current second (`updated_at eq at` and `key gt id`) or what changed after it (`updated_at gt at`). `filters` are
--- ANDed `{field, condition, value}`; `key` is the id field (`entity_id`, `id`).
---@param resource string
---@param since string? Magento time ("YYYY-MM-DD HH:MM:SS"); nil: from the beginning
---@param key string
---@param filters table[]?
---@return fun(): table?
function Client:changed_since(resource, since, key, filters)
  local size = self.page_size
  local at, id = nil, nil  -- the last item given
  local first, same_second = true, false
  local items, i, done = {}, 0, false
  local function fetch()
    local criteria = search.new()
    for _, f in ipairs(filters or {}) do criteria:where(f[1], f[2], f[3]) end
    if first then
      if since then criteria:where("updated_at", "gteq", since) end
    elseif same_second then
      criteria:where("updated_at", "eq", at):where(key, "gt", id)
    else
      criteria:where("updated_at", "gt", at)
    end
    criteria:sort("updated_at", "ASC"):sort(key, "ASC"):page_size(size)
    local got = self:search_page(resource, criteria, 1)
    local was_same = same_second and not first
    first = false
    if #got > 0 then at, id = got[#got].updated_at, got[#got][key] end
    if #got == size then
      same_second = true  -- more may share the last item's second: those first
    elseif was_same then
      same_second = false  -- the second is done: what changed after it
    else
      done = true
    end
    return got
  end
  return function()
    while true do
      if i < #items then
        i = i + 1
        return items[i]
      end
      if done then return nil end
      items, i = fetch(), 0
    end
  end
end

--- Orders changed at or after `since` (ISO 8601; nil: all), oldest change first, ties by entity_id, every one
--- (see `changed_since`). `statuses` (optional) keeps only those statuses.
---@param since string?
---@param statuses string[]?
---@return fun(): adobe_commerce.Order?
function Client:orders_changed_since(since, statuses)
  local filters = statuses and #statuses > 0 and { { "status", "in", statuses } } or nil
  local items = self:changed_since("/orders", since and _M.magento_time(since), "entity_id", filters)
  return function()
    local o = items()
    return o and _M.normalize_order(o) or nil
  end
end

-- Invoices and shipments -----------------------------------------------------------------------------------------

--- Invoices the store holds for order `order_id`.
---@param order_id integer
---@return table[]
function Client:invoices_of(order_id)
  local out = {}
  for inv in self:search("/invoices", search.new():where("order_id", "eq", order_id)) do out[#out + 1] = inv end
  return out
end

--- Invoices order `order_id` (`items`: `{order_item_id, qty}`; none: all that is left). Answers the invoice id, or
--- nil in a dry run. Not repeated by the host after an ambiguous failure: look at `qty_invoiced` first.
---@param order_id integer
---@param items {order_item_id: integer, qty: integer}[]?
---@param capture boolean?
---@return integer?
function Client:create_invoice(order_id, items, capture)
  local res = self:call("invoice order " .. tostring(order_id), "/order/" .. tostring(order_id) .. "/invoice", {
    method = "POST", json = { capture = capture == true, notify = false, items = json.array(items or {}) },
  })
  if res.dry_run then return nil end
  return math.tointeger(tonumber(tostring(res.json)))
end

---@class adobe_commerce.Shipment
---@field id integer
---@field increment_id string
---@field order_id integer
---@field items {order_item_id: integer, qty: integer, sku: string}[]
---@field tracks {track_number: string, title: string?, carrier_code: string?}[]
---@field comments string[]

local function normalize_shipment(s)
  local items, tracks, comments = {}, {}, {}
  for i, it in ipairs(s.items or {}) do
    items[i] = { order_item_id = integer(it.order_item_id), qty = integer(it.qty), sku = it.sku }
  end
  for i, t in ipairs(s.tracks or {}) do
    tracks[i] = {
      track_number = t.track_number, title = present(t.title) and t.title or nil, carrier_code = t.carrier_code,
    }
  end
  for _, c in ipairs(s.comments or {}) do
    if present(c.comment) then comments[#comments + 1] = c.comment end
  end
  return { id = integer(s.entity_id), increment_id = tostring(s.increment_id), order_id = integer(s.order_id),
    items = items, tracks = tracks, comments = comments }
end

--- The shipments of order `order_id`.
---@param order_id integer
---@return adobe_commerce.Shipment[]
function Client:shipments_of(order_id)
  local out = {}
  for s in self:search("/shipments", search.new():where("order_id", "eq", order_id)) do
    out[#out + 1] = normalize_shipment(s)
  end
  return out
end

--- Ships order `order_id` (POST /V1/order/{id}/ship). `shipment`: `items` (`{order_item_id, qty}`: a
--- configurable product's parent row; none: all that is left), `tracks` (`{track_number, title, carrier_code}`),
--- `comment` (text, e.g. the reference that makes the shipment findable again: the endpoint has no external
--- reference field), `notify`. Answers the shipment id, or nil in a dry run. Magento refuses more than is left
--- (400, a business refusal), so check `shipped` on the order lines first; not repeated by the host after an
--- ambiguous failure.
---@param order_id integer
---@param shipment {items: table[]?, tracks: table[]?, comment: string?, notify: boolean?}
---@return integer?
function Client:ship(order_id, shipment)
  local body = {
    items = json.array(shipment.items or {}), notify = shipment.notify == true,
    tracks = json.array(shipment.tracks or {}),
  }
  if shipment.comment then
    body.appendComment = true
    body.comment = { comment = shipment.comment, is_visible_on_front = 0 }
  end
  local res = self:call("ship order " .. tostring(order_id), "/order/" .. tostring(order_id) .. "/ship", {
    method = "POST", json = body,
  })
  if res.dry_run then return nil end
  return math.tointeger(tonumber(tostring(res.json)))
end

-- Customers and products -----------------------------------------------------------------------------------------

--- The customer whose email is `email` (on `website_id`, when given), or nil.
---@param email string
---@param website_id integer?
---@return table?
function Client:customer_by_email(email, website_id)
  local criteria = search.new():where("email", "eq", email)
  if website_id then criteria:where("website_id", "eq", website_id) end
  local items = self:search_page("/customers/search", criteria:page_size(1))
  return items[1]
end

--- Customers changed at or after `since` (ISO 8601; nil: all), oldest first.
---@param since string?
---@return fun(): table?
function Client:customers_changed_since(since)
  return self:changed_since("/customers/search", since and _M.magento_time(since), "id")
end

--- Creates a customer (`{email, firstname, lastname, website_id, group_id, store_id}`); answers it as stored, or
--- nil in a dry run. A duplicate email on the website is Magento's 400 (a business refusal): look it up first.
---@param customer table
---@return table?
function Client:create_customer(customer)
  local res = self:call("create customer", "/customers", { method = "POST", json = { customer = customer } })
  return res.dry_run and nil or res.json
end

--- Product `sku` as this client's store view shows it (its price and name there), or nil.
---@param sku string
---@return table?
function Client:product(sku)
  local ok, res = pcall(self.call, self, "read product " .. sku, "/products/" .. _M.escape(sku))
  if ok then
    local p = res.json
    p.price = amount(p.price)
    return p
  end
  if system_error.is(res, "not_found") then return nil end
  error(res, 0)
end

--- Creates or updates product `product.sku` in this client's store view scope (`all`/`default`: the default
--- values; a view's code: that view's own name and price). Answers the product, or nil in a dry run.
---@param product {sku: string, name: string?, price: mlhost.Decimal|string|integer|nil, type_id: string?}
---@return table?
function Client:save_product(product)
  local res = self:call("save product " .. tostring(product.sku), "/products/" .. _M.escape(product.sku), {
    method = "PUT", json = { product = product },
  })
  return res.dry_run and nil or res.json
end

return _M
