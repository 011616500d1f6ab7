--- WooCommerce REST API v3 client (`/wp-json/wc/v3` on the store's own domain and port): orders changed since a cursor,
--- one order, order updates (through the batch), customers by email, products, and the webhooks resource. The host
--- signs each request with the store's consumer key (HTTP Basic over HTTPS, one-legged OAuth 1.0a HMAC-SHA256 in the
--- query over plain HTTP: the `woocommerce` credential type) and retries 429/5xx of the host or CDN in front with the
--- shared budgets; WordPress errors (`code`, `message`, `data.status`) are raised as `system_error`s carrying
--- WooCommerce's own code and text. Money stays exact: amounts are strings, read as decimals. Orders normalise to
--- `stdlib.Order`, the shape the X3 invoice builder takes.
local mlhost = mlhost
local http, money, time = mlhost.http, mlhost.money, mlhost.time
local system_error = require "sync.system_error"
local paging = require "sync.paging"
local ipairs, tostring, tonumber, type, setmetatable = ipairs, tostring, tonumber, type, setmetatable

local _M = {}

---@class woocommerce.Client
---@field system string
---@field per_page integer
local Client = {}
Client.__index = Client

--- A client for one store. `settings`: `url` (the site: scheme, host, port and any WordPress folder), `credential`
--- (a `woocommerce` consumer key and secret), `per_page` (1 to 100, default 100), and `timeout`,
--- `max_concurrent`, `rate`, `retries`, TLS (`ca_bundle`, `verify_tls`) and `proxy`.
---@param settings table
---@return woocommerce.Client
function _M.client(settings)
  local per_page = settings.per_page or 100
  if per_page < 1 or per_page > 100 then error("woocommerce: per_page must be 1 to 100 (WooCommerce's limit)", 2) end
  local url = tostring(settings.url):gsub("/+$", "")
  local system = http.system {
    name = settings.name or "woocommerce", base_url = url .. "/wp-json/wc/v3", credential = settings.credential,
    timeout = settings.timeout, max_concurrent = settings.max_concurrent or 8, rate = settings.rate,
    burst = settings.rate and math.max(1, settings.rate // 2) or nil, retries = settings.retries,
    ca_bundle = settings.ca_bundle, verify_tls = settings.verify_tls, proxy = settings.proxy,
  }
  return setmetatable({ system = system, per_page = per_page }, Client)
end

--- WordPress's error text: `code: message`.
---@param res table
---@return string?
function _M.describe(res)
  local body = res.json
  if type(body) == "table" and type(body.message) == "string" then
    local text = body.message:gsub("<[^>]*>", "")
    return (type(body.code) == "string" and (body.code .. ": ") or "") .. text
  end
  return nil
end

-- Statuses where WooCommerce refuses the content (an invalid parameter, an existing email): a retry would be
-- refused again, so the record waits for a person.
local BUSINESS = { [400] = true, [409] = true, [413] = true, [422] = true }

--- One exchange with the store; raises `system_error`s. A 5xx of a write is ambiguous (it may have committed):
--- the caller looks the record up before writing again.
---@param options table
---@return table res
function Client:call(what, options)
  options.system, options.decimals = self.system, true
  local res, token, detail = http.request(options)
  local mutating = options.method ~= nil and options.method ~= "GET"
  if res and res.status >= 500 then
    system_error.raise({
      kind = "http", system = "woocommerce", status = res.status, retryable = true, ambiguous = mutating,
      retry_after = res.retry_after,
      message = "woocommerce: " .. what .. " answered " .. res.status
        .. (_M.describe(res) and (": " .. _M.describe(res)) or ""),
    })
  end
  if res and BUSINESS[res.status] then
    local body = res.json
    system_error.raise({
      kind = "business", system = "woocommerce", status = res.status, retryable = false,
      code = type(body) == "table" and body.code or nil,
      message = "woocommerce: " .. what .. " refused: " .. (_M.describe(res) or ("HTTP " .. res.status)),
    })
  end
  if res and res.status == 404 then
    -- WordPress's code tells a missing record (`woocommerce_rest_shop_order_invalid_id`) from a route this store
    -- does not have (`rest_no_route`: a plugin or host blocks it, or an older WooCommerce).
    local body = res.json
    system_error.raise({
      kind = "not_found", system = "woocommerce", status = 404, retryable = false,
      code = type(body) == "table" and type(body.code) == "string" and body.code or nil,
      message = "woocommerce: " .. what .. " answered 404" .. (_M.describe(res) and (": " .. _M.describe(res)) or ""),
    })
  end
  return system_error.check("woocommerce", what, res, token, detail, _M.describe)
end

--- Pages of a collection (`path`, `query`), page by page up to `X-WP-TotalPages` (an empty page ends it too).
---@param path string
---@param query table?
---@return fun(): table[]?
function Client:pages(path, query)
  return paging.pages(function(page)
    local q = { page = page, per_page = self.per_page }
    for k, v in pairs(query or {}) do q[k] = v end
    local res = self:call("GET " .. path, { path = path, query = q })
    local items = type(res.json) == "table" and res.json or {}
    local total = tonumber(res.headers["x-wp-totalpages"] or "")
    local more = #items > 0 and (total == nil and #items == self.per_page or (total ~= nil and page < total))
    return items, more and page + 1 or nil
  end, 1)
end

--- `date_*_gmt` (no zone suffix, UTC) as ISO 8601 with `Z`.
---@param gmt string?
---@return string?
function _M.utc(gmt)
  if type(gmt) ~= "string" or gmt == "" then return nil end
  if gmt:match("[Zz]$") or gmt:match("[+-]%d%d:%d%d$") then return gmt end
  return gmt .. "Z"
end

--- Pages of orders modified since `since` (ISO 8601 UTC; nil: all), oldest change first, each page an array of
--- raw orders. `modified_after` is exclusive and has whole seconds, so the query starts a second early and the
--- caller's cursor skips what it already handled. Paging is by keyset: each next query starts at the last
--- modified second seen, so an order changed while paging moves behind the cursor instead of shifting a later one
--- out of the page it was on; a page of one second's orders only, all seen, goes on with `page`.
---@param since string?
---@param query table? more filters (`status`)
---@return fun(): table[]?
function Client:order_pages(since, query)
  local start = since and time.parse(since) or nil
  local state = { after = start and (start - 1) or nil, page = 1 }
  local returned = {}
  return paging.pages(function(s)
    local q = { orderby = "modified", order = "asc", dates_are_gmt = "true", page = s.page, per_page = self.per_page }
    if s.after then q.modified_after = time.format(s.after, "iso8601"):gsub("Z$", "") end
    for k, v in pairs(query or {}) do q[k] = v end
    local res = self:call("GET /orders", { path = "/orders", query = q })
    local raw = type(res.json) == "table" and res.json or {}
    local total = tonumber(res.headers["x-wp-totalpages"] or "") or s.page
    local out, last = {}, nil
    for _, o in ipairs(raw) do
      local at = _M.utc(o.date_modified_gmt)
      local key = tostring(o.id) .. "@" .. tostring(at)
      if not returned[key] then
        returned[key] = true
        out[#out + 1] = o
      end
      last = at and time.parse(at) or last
    end
    if #raw < self.per_page or s.page >= total or last == nil then return out, nil end
    -- The next query starts a second before the last change seen (ties in that second are skipped above);
    -- when this whole page was that one second, the same query goes on to its next page.
    local after = last - 1
    if after == s.after then return out, { after = after, page = s.page + 1 } end
    return out, { after = after, page = 1 }
  end, state)
end

--- The order `id`, or nil when the store has none.
---@param id string|integer
---@return table?
function Client:order(id)
  local ok, res = pcall(self.call, self, "GET /orders/" .. tostring(id), { path = "/orders/" .. tostring(id) })
  if ok then return res.json end
  if system_error.is(res, "not_found") then return nil end
  error(res, 0)
end

--- An amount as given back, whatever its sign (WooCommerce sends a refund's lines and taxes negative).
local function given_back(v)
  local d = money.new(v == nil and "0" or v)
  return money.cmp(d, 0) < 0 and money.new("0") - d or d
end

--- The order line a refund row gives back: the `_refunded_item_id` WooCommerce puts in its meta.
local function refunded_item(row)
  for _, m in ipairs(type(row.meta_data) == "table" and row.meta_data or {}) do
    if m.key == "_refunded_item_id" and m.value ~= nil then
      return tostring(math.tointeger(tonumber(m.value)) or m.value)
    end
  end
  return nil
end

--- The refunds of order `id` (`GET /orders/{id}/refunds`, every page), oldest first, as `stdlib.Refund`s: what
--- each gave back by order line (its product and fee rows, linked by `_refunded_item_id`) and for shipping, money
--- exact and counted by its amount whatever its sign. A refund of an amount alone has no lines. Nil when the store
--- does not serve the route (`rest_no_route`: the API facts show an order's refunds only as a list on the order, and
--- a plugin or host may block it).
---@param id string|integer
---@return stdlib.Refund[]?
function Client:order_refunds(id)
  if not tostring(id):match("^%d+$") then error("woocommerce: order_refunds takes a numeric order id", 2) end
  local ok, pages = pcall(function()
    local all = {}
    for page in self:pages("/orders/" .. tostring(id) .. "/refunds") do all[#all + 1] = page end
    return all
  end)
  if not ok then
    if system_error.is(pages, "not_found") and pages.code == "rest_no_route" then return nil end
    error(pages, 0)
  end
  local out = {}
  for _, page in ipairs(pages) do
    for _, r in ipairs(page) do
      local lines, shipping = {}, { net = money.new("0"), tax = money.new("0") }
      for _, kind in ipairs({ "line_items", "fee_lines" }) do
        for _, row in ipairs(type(r[kind]) == "table" and r[kind] or {}) do
          local quantity = math.tointeger(tonumber(row.quantity or 1)) or 1
          lines[#lines + 1] = {
            line_id = refunded_item(row), quantity = quantity < 0 and -quantity or quantity,
            net = given_back(row.total), tax = given_back(row.total_tax),
          }
        end
      end
      for _, row in ipairs(type(r.shipping_lines) == "table" and r.shipping_lines or {}) do
        shipping.net = shipping.net + given_back(row.total)
        shipping.tax = shipping.tax + given_back(row.total_tax)
      end
      out[#out + 1] = { id = tostring(r.id), created_at = _M.utc(r.date_created_gmt), total = given_back(r.amount),
        lines = lines, shipping = shipping }
    end
  end
  table.sort(out, function(a, b)
    if a.created_at ~= b.created_at then return tostring(a.created_at) < tostring(b.created_at) end
    return (tonumber(a.id) or 0) < (tonumber(b.id) or 0)
  end)
  return out
end

--- Changes order `id` (`status`, `meta_data`) through `POST /orders/batch` (`{"update": [{id, …}]}`, the write
--- the API facts give orders); safe to repeat. WooCommerce fires `order.updated` for it. The batch answers 200
--- whatever its items met: an item's `error` is raised as a refusal carrying its code (404 `not_found` for an order
--- the store no longer has).
---@param id string|integer
---@param body table
---@return table order
function Client:update_order(id, body)
  local item = { id = math.tointeger(tonumber(id)) or error("woocommerce: order id " .. tostring(id), 2) }
  for k, v in pairs(body) do item[k] = v end
  local what = "POST /orders/batch (update order " .. tostring(id) .. ")"
  local res = self:call(what, { method = "POST", path = "/orders/batch", json = { update = { item } } })
  local answer = type(res.json) == "table" and type(res.json.update) == "table" and res.json.update[1] or nil
  if type(answer) ~= "table" then
    system_error.raise({ kind = "http", system = "woocommerce", status = res.status, retryable = true,
      message = "woocommerce: " .. what .. " answered no update item" })
  end
  local e = answer.error
  if type(e) == "table" then
    local status = type(e.data) == "table" and tonumber(e.data.status) or 400
    system_error.raise({
      kind = status == 404 and "not_found" or "business", system = "woocommerce", status = status, retryable = false,
      code = type(e.code) == "string" and e.code or nil,
      message = "woocommerce: " .. what .. " refused: " .. tostring(e.code) .. ": " .. tostring(e.message),
    })
  end
  return answer
end

--- The store customer with `email` (WooCommerce compares emails without case), or nil.
---@param email string
---@return table?
function Client:customer_by_email(email)
  local res = self:call("GET /customers", {
    path = "/customers", query = { email = email, role = "all", per_page = 1 },
  })
  return type(res.json) == "table" and res.json[1] or nil
end

--- Pages of the store's customers (every role), oldest first.
---@return fun(): table[]?
function Client:customer_pages()
  return self:pages("/customers", { role = "all", orderby = "id", order = "asc" })
end

--- Creates a store customer; WooCommerce refuses a second account for an email (`registration-error-email-exists`,
--- raised as a business refusal with that `code`).
---@param body table
---@return table
function Client:create_customer(body)
  return self:call("POST /customers", { method = "POST", path = "/customers", json = body }).json
end

--- The product `id`, or nil.
---@param id string|integer
---@return table?
function Client:product(id)
  local ok, res = pcall(self.call, self, "GET /products/" .. tostring(id), { path = "/products/" .. tostring(id) })
  if ok then return res.json end
  if system_error.is(res, "not_found") then return nil end
  error(res, 0)
end

--- The store product whose SKU is `sku` (any status, drafts included), or nil. WooCommerce matches SKUs exactly.
---@param sku string
---@return table?
function Client:product_by_sku(sku)
  local res = self:call("GET /products", { path = "/products", query = { sku = sku, status = "any", per_page = 1 } })
  return type(res.json) == "table" and res.json[1] or nil
end

--- Pages of the store's products (every status), oldest first.
---@return fun(): table[]?
function Client:product_pages()
  return self:pages("/products", { status = "any", orderby = "id", order = "asc" })
end

--- Creates a store product; WooCommerce refuses a SKU another product has (`product_invalid_sku`, raised as a
--- business refusal with that `code`).
---@param body table
---@return table
function Client:create_product(body)
  return self:call("POST /products", { method = "POST", path = "/products", json = body }).json
end

--- Every webhook of the store (all statuses).
---@return table[]
function Client:webhooks()
  local out = {}
  for page in self:pages("/webhooks", { status = "all", orderby = "id", order = "asc" }) do
    for _, w in ipairs(page) do out[#out + 1] = w end
  end
  return out
end

--- Registers a webhook: `topic`, `delivery_url`, `name`; the signing secret is the `secret` of the stored
--- credential `secret_credential`, which the host adds to the body (the script never holds it). WooCommerce pings
--- the URL, then answers 201 whatever the ping met.
---@param hook {topic: string, delivery_url: string, name: string?}
---@param secret_credential string
---@return table
function Client:create_webhook(hook, secret_credential)
  return self:call("POST /webhooks", {
    method = "POST", path = "/webhooks",
    json = { name = hook.name, topic = hook.topic, delivery_url = hook.delivery_url, status = "active" },
    secret_json = { key = "secret", credential = secret_credential },
  }).json
end

--- Changes webhook `id` (`status = "active"` re-enables a disabled or paused one).
---@param id integer
---@param body table
---@return table
function Client:update_webhook(id, body)
  local path = "/webhooks/" .. tostring(id)
  return self:call("PUT " .. path, { method = "PUT", path = path, json = body }).json
end

-- Rates by tax line `rate_id`, in percent as decimals.
local function rates_of(raw)
  local rates = {}
  for _, t in ipairs(raw.tax_lines or {}) do
    if t.rate_id ~= nil and t.rate_percent ~= nil then rates[tostring(t.rate_id)] = money.new(t.rate_percent) end
  end
  return rates
end

-- The rate (a fraction: 0.0825) of a line's `taxes` (ids of tax lines), all together.
local function rate_of(taxes, rates)
  local percent = money.new("0")
  for _, t in ipairs(taxes or {}) do
    if money.cmp(money.new(t.total or "0"), 0) ~= 0 then
      local rate = rates[tostring(t.id)] or error("woocommerce: tax " .. tostring(t.id) .. " is not in tax_lines")
      percent = percent + rate
    end
  end
  return money.div(percent, 100, 8, "half_even")
end

--- The rate of a shipping line whose `taxes` is empty (as in WooCommerce's own example) but which is taxed: the
--- rates of the tax lines carrying a shipping share (`shipping_tax_total`), all together, when the line's tax is
--- that rate of its price (to a cent per rate). Otherwise nil and why: which rate taxed it cannot be told.
local function shipping_rate(raw, sl, i)
  local percent, rates = money.new("0"), {}
  for _, t in ipairs(raw.tax_lines or {}) do
    if money.cmp(money.new(t.shipping_tax_total or "0"), 0) ~= 0 then
      if t.rate_percent == nil or t.rate_percent == mlhost.json.null then
        return nil, "tax line " .. tostring(t.rate_code or t.id) .. " taxes the shipping but has no rate_percent"
      end
      percent = percent + money.new(t.rate_percent)
      rates[#rates + 1] = tostring(t.rate_code or t.rate_id) .. " " .. money.format(money.new(t.rate_percent), 4)
        :gsub("%.?0+$", "") .. " %"
    end
  end
  local what = "shipping line " .. i .. " (" .. tostring(sl.method_title) .. ")"
  if #rates == 0 then
    return nil, what .. " is taxed but lists no taxes, and no tax line has a shipping_tax_total: its tax rate "
      .. "cannot be told"
  end
  local rate = money.div(percent, 100, 8, "half_even")
  local price, tax = money.new(sl.total or "0"), money.new(sl.total_tax or "0")
  local gap = tax - money.round(price * rate, 2, "half_up")
  if money.cmp(gap, 0) < 0 then gap = money.new("0") - gap end
  if money.cmp(gap, money.new("0.01") * #rates) > 0 then
    return nil, what .. " lists no taxes and its tax " .. money.format(tax, 2) .. " is not the shipping tax lines' "
      .. table.concat(rates, " + ") .. " of its price " .. money.format(price, 2)
      .. ": which rate taxed it cannot be told"
  end
  return rate
end

local function address(a)
  if type(a) ~= "table" then return nil end
  return {
    first_name = a.first_name, last_name = a.last_name, company = a.company, address1 = a.address_1,
    address2 = a.address_2, city = a.city, zip = a.postcode, state = a.state, country_code = a.country,
    email = a.email, phone = a.phone,
  }
end

--- A raw order (REST v3, from the API or a webhook) as a `stdlib.Order`: money exact, `net` per line (WooCommerce's
--- line total, after discounts), taxes and their rates from `tax_lines`, timestamps in UTC, the refunds' sum.
--- `problem` says why the order cannot be posted as it is (a shipping or fee tax whose rate cannot be told). Fee
--- lines are among `lines`, each with `fee = true` (no product), and `fees` is how many there are.
---@param raw table
---@param prefix string? the reference prefix (default "WC-")
---@return stdlib.Order
function _M.normalize_order(raw, prefix)
  local rates = rates_of(raw)
  local lines, shipping = {}, {}
  for i, li in ipairs(raw.line_items or {}) do
    local net = money.new(li.total or "0")
    local quantity = math.tointeger(li.quantity) or error("woocommerce: line " .. i .. " has no whole quantity")
    lines[i] = {
      -- A deleted product's line has `sku: null` (the SKU is read from the product): no SKU, like an empty one.
      id = tostring(li.id), sku = type(li.sku) == "string" and li.sku ~= "" and li.sku or nil,
      product_id = tostring(li.product_id),
      variation_id = type(li.variation_id) == "number" and li.variation_id ~= 0 and tostring(li.variation_id) or nil,
      name = li.name, quantity = quantity,
      net = net, unit_price = quantity ~= 0 and money.div(net, quantity, 2, "half_up") or net,
      tax = money.new(li.total_tax or "0"), tax_rate = rate_of(li.taxes, rates),
    }
  end
  -- Fee lines (surcharges) follow the product lines, as lines of quantity 1 marked `fee`: their total and tax count
  -- in the order's totals like any line's.
  local problem
  for i, fl in ipairs(raw.fee_lines or {}) do
    local net, tax = money.new(fl.total or "0"), money.new(fl.total_tax or "0")
    if money.cmp(tax, 0) ~= 0 and not (type(fl.taxes) == "table" and #fl.taxes > 0) then
      problem = problem or ("fee line " .. i .. " (" .. tostring(fl.name) .. ") is taxed but lists no taxes: its "
        .. "tax rate cannot be told")
    end
    lines[#lines + 1] = {
      id = tostring(fl.id), fee = true, name = fl.name, quantity = 1, net = net, unit_price = net, tax = tax,
      tax_rate = rate_of(fl.taxes, rates),
    }
  end
  for i, sl in ipairs(raw.shipping_lines or {}) do
    local tax = money.new(sl.total_tax or "0")
    local rate, why
    if type(sl.taxes) == "table" and #sl.taxes > 0 or money.cmp(tax, 0) == 0 then
      rate = rate_of(sl.taxes, rates)
    else
      rate, why = shipping_rate(raw, sl, i)
      problem = problem or why
    end
    shipping[i] = { title = sl.method_title, price = money.new(sl.total or "0"), tax = tax, tax_rate = rate }
  end
  local refunded = money.new("0")
  -- WooCommerce lists refunds with a negative total; the sign is not relied on: each refund counts by its amount.
  for _, r in ipairs(raw.refunds or {}) do
    local amount = money.new(r.total or "0")
    refunded = refunded + (money.cmp(amount, 0) < 0 and money.new("0") - amount or amount)
  end
  local meta = {}
  for _, m in ipairs(raw.meta_data or {}) do
    if type(m.key) == "string" then meta[m.key] = m.value end
  end
  local billing = address(raw.billing)
  return {
    id = tostring(raw.id), name = (prefix or "WC-") .. tostring(raw.number or raw.id), number = tostring(raw.number),
    email = billing and billing.email ~= "" and billing.email or nil, status = raw.status,
    created_at = _M.utc(raw.date_created_gmt), updated_at = _M.utc(raw.date_modified_gmt),
    cancelled = raw.status == "cancelled", currency = raw.currency, total = money.new(raw.total or "0"),
    total_tax = money.new(raw.total_tax or "0"), refunded = refunded, lines = lines, shipping = shipping,
    fees = #(raw.fee_lines or {}), problem = problem, billing = billing, delivery = address(raw.shipping), meta = meta,
    customer = { id = raw.customer_id, email = billing and billing.email, first_name = billing and billing.first_name,
      last_name = billing and billing.last_name },
  }
end

return _M
