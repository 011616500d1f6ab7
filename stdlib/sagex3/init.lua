--- Sage X3 client over either of its web APIs, chosen per deployment with `api`: the Syracuse REST api1
--- (`sagex3.rest`) or the Xtrem GraphQL API (`sagex3.graphql`). Both speak in X3 column names (BPCNUM, CUSORDREF…)
--- so a connector does not change with the API; class, representation, node and field names differ between X3
--- versions and installations, so each is a setting with the API facts' default. Calls go through one
--- `mlhost.http.system`, whose `max_concurrent` and `rate` protect the Syracuse sessions.
local mlhost = mlhost
local http = mlhost.http
local system_error = require "sync.system_error"
local ipairs, pairs, tostring, type, setmetatable = ipairs, pairs, tostring, type, setmetatable
local concat = table.concat

local _M = {}

--- The defaults, by role; override any in `settings.classes` / `settings.fields`. Header and key names follow the
--- API facts (§4.2: BPCUSTOMER/BPCNUM, SINVOICE/NUM, BPCINV, INVDAT, AMTNOT, AMTATI, CUR, SIVTYP, SDELIVERY/SDHNUM);
--- line blocks follow the facts' pattern of header abbreviation + line table abbreviation (SORDER's `SOHSOP`:
--- SINVOICE's `SIHSID`, SDELIVERY's `SDHSDD`). Installations differ ("verify per installation"), so every one is a
--- setting.
_M.CLASSES = {
  customer = "BPCUSTOMER", item = "ITMMASTER", account = "GACCOUNT", cost_centre = "CCE", invoice = "SINVOICE",
  credit_note = "SINVOICE", delivery = "SDELIVERY", stock = "STOCK", movement = "STOJOU",
  -- miscellaneous issue (object SMO): goods leaving stock outside a sales delivery. An inference, not in the API
  -- facts (they name only STOCK and ITMMVT/STOJOU): this class and the issue_* fields are to be checked per folder.
  stock_issue = "SMO",
  supplier = "BPSUPPLIER", purchase_order = "PORDER", supplier_invoice = "PINVOICE",
}
_M.FIELDS = {
  -- customer
  customer_code = "BPCNUM", customer_name = "BPCNAM", customer_email = "EMAIL", customer_currency = "CUR",
  customer_category = "BCGCOD", customer_country = "CRY",
  -- item, GL account, cost centre
  item_code = "ITMREF", item_name = "ITMDES1", item_class = "TCLCOD", item_unit = "STU", account_code = "ACC",
  cost_centre_code = "CCE", enabled = "ENAFLG",
  -- sales invoice (and credit note) header
  invoice_number = "NUM", invoice_type = "SIVTYP", invoice_site = "SALFCY", invoice_customer = "BPCINV",
  invoice_reference = "CUSORDREF", invoice_date = "INVDAT", invoice_currency = "CUR", invoice_net = "AMTNOT",
  invoice_gross = "AMTATI", invoice_status = "ZSHOPSTA", invoice_lines = "SIHSID", invoice_origin = "SIHORINUM",
  -- bill-to (BPI…) and ship-to (BPD…) addresses of a sales document; address lines are an array
  bill_name = "BPINAM", bill_lines = "BPIADDLIG", bill_zip = "BPIPOSCOD", bill_city = "BPICTY", bill_country = "BPICRY",
  ship_name = "BPDNAM", ship_lines = "BPDADDLIG", ship_zip = "BPDPOSCOD", ship_city = "BPDCTY", ship_country = "BPDCRY",
  -- document lines (invoice, credit note, delivery)
  line_item = "ITMREF", line_quantity = "QTY", line_price = "GROPRI", line_net = "AMTNOTLIN", line_tax = "VATAMT",
  line_tax_level = "VACITM", line_account = "ACC", line_cost_centre = "CCE",
  -- delivery header
  delivery_number = "SDHNUM", delivery_customer = "BPCORD", delivery_reference = "YSHOPFUL",
  delivery_invoice = "SINVNUM", delivery_date = "DLVDAT", delivery_site = "STOFCY", delivery_lines = "SDHSDD",
  -- stock and movements
  updated = "UPDDATTIM", stock_key = "STOCOU", site = "STOFCY", quantity = "QTYSTU", movement_key = "MVTNUM",
  -- miscellaneous issue header and lines (lines take line_item and line_quantity)
  issue_number = "VCRNUM", issue_site = "STOFCY", issue_date = "IPTDAT", issue_reference = "YEXTREF",
  issue_lines = "SMOLIN",
  -- delivery carrier and tracking number
  delivery_carrier = "BPTNUM", delivery_tracking = "YTRKNUM",
  -- supplier, purchase order (POH) and its lines
  supplier_code = "BPSNUM", purchase_order_number = "POHNUM", purchase_order_supplier = "BPSNUM",
  purchase_order_lines = "POHPOQ", po_line = "POPLIN", po_line_quantity = "QTYUOM", po_line_invoiced = "INVQTY",
  -- supplier invoice (PIH): BPRVCR is the supplier's own document number, unique per supplier
  supplier_invoice_number = "NUM", supplier_invoice_type = "PIVTYP", supplier_invoice_site = "FCY",
  supplier_invoice_supplier = "BPR", supplier_invoice_reference = "BPRVCR", supplier_invoice_date = "BPRDAT",
  supplier_invoice_accounting_date = "ACCDAT", supplier_invoice_currency = "CUR", supplier_invoice_net = "AMTNOT",
  supplier_invoice_gross = "AMTATI", supplier_invoice_lines = "PIHPID", line_po = "POHNUM", line_po_line = "POPLIN",
}
--- X3's yes/no local menu (1 = No, 2 = Yes): the value an enabled account or cost centre has (GraphQL shows it
--- as a boolean). `settings.yes` overrides it.
_M.YES = 2

--- The key column of each role, as a field name.
_M.KEYS = {
  customer = "customer_code", item = "item_code", account = "account_code", cost_centre = "cost_centre_code",
  invoice = "invoice_number", credit_note = "invoice_number", delivery = "delivery_number", stock = "stock_key",
  movement = "movement_key", stock_issue = "issue_number", supplier = "supplier_code",
  purchase_order = "purchase_order_number",
  supplier_invoice = "supplier_invoice_number",
}

---@class sagex3.Condition
---@field field string an X3 column
---@field op "eq"|"ne"|"gt"|"ge"|"lt"|"le"
---@field value string|integer
---@field ci boolean? compare case-insensitively
---@field time boolean? the value is an ISO 8601 timestamp

---@class sagex3.Client
---@field system string
---@field classes table<string, string>
---@field fields table<string, string>
---@field page_size integer
---@field yes string|integer the local menu value that means yes
---@field api table the transport: `rows`, `read`, `create`, `update`
local Client = {}
Client.__index = Client

---@param defaults table
---@param overrides table?
---@return table
function _M.merged(defaults, overrides)
  local out = {}
  for k, v in pairs(defaults) do out[k] = v end
  for k, v in pairs(overrides or {}) do out[k] = v end
  return out
end

local TRANSPORTS = { rest = "sagex3.rest", graphql = "sagex3.graphql" }

--- A client for one X3 folder. `settings`: `url` (scheme, host and port of Syracuse), `endpoint` (the X3
--- endpoint/folder, e.g. SEED), `api` ("rest", the default, or "graphql"), `credential` (Basic Syracuse user;
--- OAuth2 with refresh for the cloud gateway; `x3_jwt` for a GraphQL connected application), `page_size`
--- (default 100), `classes`, `fields`, `yes` (the yes/no local menu's yes, default 2), REST `representations`,
--- GraphQL `nodes` and `properties`, and `timeout`,
--- `max_concurrent` (default 4), `rate`, `retries`, TLS (`ca_bundle`, `client_cert`, `client_key`,
--- `verify_tls`) and `proxy`.
---@param settings table
---@return sagex3.Client
function _M.client(settings)
  local api = settings.api or "rest"
  local module = TRANSPORTS[api]
  if not module then
    error("sagex3: api '" .. tostring(api) .. "' is not one of \"rest\", \"graphql\"", 2)
  end
  local system = http.system {
    name = settings.name or "x3", base_url = settings.url, credential = settings.credential,
    timeout = settings.timeout, max_concurrent = settings.max_concurrent or 4, rate = settings.rate,
    burst = settings.rate and math.max(1, settings.rate // 2) or nil, retries = settings.retries,
    ca_bundle = settings.ca_bundle, client_cert = settings.client_cert, client_key = settings.client_key,
    verify_tls = settings.verify_tls, proxy = settings.proxy,
  }
  local self = setmetatable({
    system = system, endpoint = settings.endpoint or "SEED",
    classes = _M.merged(_M.CLASSES, settings.classes), fields = _M.merged(_M.FIELDS, settings.fields),
    page_size = settings.page_size or 100, yes = settings.yes or _M.YES,
  }, Client)
  self.api = require(module).new(self, settings)
  return self
end

--- The text of X3's diagnoses in an answer (`$diagnoses`, or GraphQL's `extensions.diagnoses` and `errors`).
---@param body any
---@return string?
function _M.describe(body)
  if type(body) ~= "table" then return nil end
  local out = {}
  local lists = { body["$diagnoses"] or {}, body.extensions and body.extensions.diagnoses or {}, body.errors or {} }
  for _, list in ipairs(lists) do
    for _, d in ipairs(type(list) == "table" and list or {}) do
      local message = d["$message"] or d.message
      if (d["$severity"] or d.severity) ~= "info" and message then out[#out + 1] = message end
      for _, inner in ipairs(d.extensions and d.extensions.diagnoses or {}) do
        if inner.message and inner.message ~= message then out[#out + 1] = inner.message end
      end
    end
  end
  return #out > 0 and concat(out, "; ") or nil
end

--- The key a row gets in a dry run, where the host journals the write instead of sending it.
_M.DRY_RUN = "(dry run)"

--- What a create or update would have stored, for a dry run: the body sent, its key `DRY_RUN` unless given.
---@param client sagex3.Client
---@param role string
---@param body table
---@param key string?
---@return table
function _M.planned(client, role, body, key)
  local row = _M.merged(body)
  local column = client.fields[_M.KEYS[role]]
  if column then row[column] = key or row[column] or _M.DRY_RUN end
  return row
end

--- Raises X3 refusing the content (a business rule): a retry would be refused again, so the record is parked for
--- a person.
---@param what string
---@param status integer
---@param text string?
function _M.refuse(what, status, text)
  system_error.raise({
    kind = "business", system = "x3", status = status, retryable = false,
    message = "x3: " .. what .. " refused: " .. (text or ("HTTP " .. status)),
  })
end

--- Checks one exchange with X3. Only X3 refusing the content — a status in `business` with an error in its
--- diagnoses — is a business refusal (`refuse`: the record waits for a person). A server failure (5xx) is
--- retried: X3 did not refuse anything, and for a write (`mutating`) it is ambiguous, since it may have committed
--- before failing, so the caller looks the document up before sending it again. Other failures raise as
--- `system_error.check` classifies them, with X3's diagnoses in the message.
---@param what string
---@param res table?
---@param token string?
---@param detail table?
---@param business table<integer, boolean>
---@param mutating boolean? a create (not safe to repeat blindly)
---@return table res
function _M.check(what, res, token, detail, business, mutating)
  if res and res.status >= 500 then
    local text = _M.describe(res.json)
    system_error.raise({
      kind = "http", system = "x3", status = res.status, retryable = true, ambiguous = mutating == true,
      retry_after = res.retry_after,
      message = "x3: " .. what .. " answered " .. res.status .. (text and (": " .. text) or ""),
    })
  end
  if res and business[res.status] then
    local text = _M.describe(res.json)
    if text then _M.refuse(what, res.status, text) end
  end
  return system_error.check("x3", what, res, token, detail, function(r) return _M.describe(r.json) end)
end

--- Rows of `role` ("customer", "invoice", …) matching every condition of `opts.where`, in `opts.order_by`
--- (columns, each optionally `{column, desc = true}`), then by key, all pages.
---@param role string
---@param opts {where: sagex3.Condition[]?, order_by: (string|table)[]?, count: integer?}?
---@return fun(): table?
function Client:query(role, opts)
  opts = opts or {}
  if not self.classes[role] then error("sagex3: no class for role '" .. tostring(role) .. "'", 2) end
  local order = {}
  for i, o in ipairs(opts.order_by or {}) do
    order[i] = type(o) == "table" and { column = o[1], desc = o.desc == true } or { column = o, desc = false }
  end
  return self.api:rows(role, opts.where or {}, order, opts.count or self.page_size)
end

--- The first row of `role` matching `where`, or nil.
---@param role string
---@param where sagex3.Condition[]
---@return table?
function Client:first(role, where)
  return self:query(role, { where = where, count = 1 })()
end

--- The row of `role` with key `key`, or nil when X3 has none.
---@param role string
---@param key string
---@return table?
function Client:read(role, key)
  return self.api:read(role, key)
end

--- Creates a row of `role`; returns it as X3 stored it (with its generated number). Not repeated by the host
--- after an ambiguous failure: use `create_unique`, or look the row up by its reference before calling again.
---@param role string
---@param body table
---@return table
function Client:create(role, body)
  return self.api:create(role, body)
end

--- Creates a row of `role` unless it exists: when the create fails without X3 refusing it (a 5xx, a timeout, a
--- dropped connection) it may have committed all the same, so `find()` looks it up by its reference: found, it is
--- the answer; absent, the failure is raised as retryable, and the record's next attempt creates it. X3's business
--- refusals raise at once. A create answered without the row's key (X3's answer is not documented) is looked up
--- with `find()` too.
---@param role string
---@param body table
---@param find fun(): table?
---@return table row
function Client:create_unique(role, body, find)
  local ok, result = pcall(self.api.create, self.api, role, body)
  if ok then
    -- The facts do not say what a create answers: without the row's key, the row is read back by its reference.
    local key = self.fields[_M.KEYS[role]]
    local value = type(result) == "table" and result[key] or nil
    if value ~= nil and value ~= mlhost.json.null and value ~= "" then return result end
    local found = find()
    if found then return found end
    system_error.raise({
      kind = "business", system = "x3", retryable = false,
      message = "x3: created " .. self.classes[role] .. " but its answer has no " .. tostring(key)
        .. " and it is not found by its reference; check X3 before replaying (a replay would create it again)",
    })
  end
  if not system_error.is(result) or result.kind == "business" or not (result.retryable or result.ambiguous) then
    error(result, 0)
  end
  local found = find()
  if found then return found end
  result.retryable = true
  error(result, 0)
end

--- Changes fields of the row `key` of `role` (safe to repeat).
---@param role string
---@param key string
---@param body table
---@return table
function Client:update(role, key, body)
  return self.api:update(role, key, body)
end

--- The customer whose email is `email` (compared case-insensitively), or nil.
---@param email string
---@return table?
function Client:customer_by_email(email)
  return self:first("customer", { { field = self.fields.customer_email, op = "eq", value = email, ci = true } })
end

--- Whether the account or cost centre row is enabled: its `enabled` field holds the yes of X3's yes/no local menu
--- (or GraphQL's true). A row without that field answers nil and a reason naming the field and what X3 sent, so a
--- wrong field name is never read as "inactive".
---@param row table
---@param what string the row, for the reason ("GL account 701000")
---@return boolean? enabled
---@return string? reason why it is not enabled, or why that cannot be told
function Client:enabled(row, what)
  local field = self.fields.enabled
  local flag = row[field]
  if flag == nil or flag == mlhost.json.null then
    local sent = {}
    for k in pairs(row) do
      if type(k) == "string" and k:sub(1, 1) ~= "$" then sent[#sent + 1] = k end
    end
    table.sort(sent)
    return nil, what .. ": X3 sent no " .. field .. " (it sent " .. concat(sent, ", ")
      .. "); set x3.fields.enabled to the field that tells whether it is active"
  end
  if flag == true or tostring(flag) == tostring(self.yes) then return true end
  return false, what .. " is inactive in X3 (" .. field .. " = " .. tostring(flag) .. ", active is "
    .. tostring(self.yes) .. ")"
end

--- The customer whose email is `email`, created from `billing` when it is missing and `create` is true.
--- `defaults`: `code` (the customer code, BPCNUM: X3 numbers no customer itself; see `sagex3.codes`), `category`
--- (the customer category X3 requires) and `currency`. Answers the row, and whether it was
--- created; nil when missing and not to be created. Two orders of one new customer processed at once take turns
--- on a lock by email, so the second finds the customer the first created instead of creating it again.
---@param email string
---@param billing stdlib.Address?
---@param create boolean
---@param defaults {code: string?, category: string?, currency: string?}
---@return table? customer
---@return boolean? created
function Client:customer_for(email, billing, create, defaults)
  local found = self:customer_by_email(email)
  if found or not create then return found, false end
  local key = "sagex3.customer\0" .. self.endpoint .. "\0" .. email:lower()
  mlhost.lock(key)
  local ok, row, created = pcall(self.create_customer, self, email, billing, defaults)
  mlhost.unlock(key)
  if not ok then error(row, 0) end
  return row, created
end

--- Creates the customer `email` from `billing` unless it exists (looked up again first: the caller holds the
--- email's lock). Answers the row and whether it was created.
---@param email string
---@param billing stdlib.Address?
---@param defaults {code: string?, category: string?, currency: string?}
---@return table customer
---@return boolean created
function Client:create_customer(email, billing, defaults)
  local again = self:customer_by_email(email)
  if again then return again, false end
  local f, b = self.fields, billing or {}
  local person = concat({ b.first_name or "", b.last_name or "" }, " "):match("^%s*(.-)%s*$")
  local name = (b.company and b.company ~= "" and b.company) or (person ~= "" and person) or email
  local body = {
    [f.customer_code] = defaults.code, [f.customer_name] = name, [f.customer_email] = email,
    [f.customer_category] = defaults.category, [f.customer_currency] = defaults.currency,
    [f.customer_country] = b.country_code,
  }
  return self:create_unique("customer", body, function() return self:customer_by_email(email) end), true
end

--- The stock issue carrying `reference`, or nil: the check before posting a movement.
---@param reference string
---@return table?
function Client:issue_by_reference(reference)
  return self:first("stock_issue", { { field = self.fields.issue_reference, op = "eq", value = reference } })
end

--- Adds `address` (a `stdlib.Address`) to the document `body` as its bill-to (`kind` "bill") or ship-to ("ship")
--- address: name (the company, else the person), address lines, postcode, city, country.
---@param body table
---@param kind "bill"|"ship"
---@param address stdlib.Address?
function Client:add_address(body, kind, address)
  if type(address) ~= "table" then return end
  local f = self.fields
  local person = concat({ address.first_name or "", address.last_name or "" }, " "):match("^%s*(.-)%s*$")
  local lines = {}
  for _, l in ipairs({ address.address1, address.address2 }) do
    if type(l) == "string" and l ~= "" then lines[#lines + 1] = l end
  end
  body[f[kind .. "_name"]] = (address.company and address.company ~= "") and address.company or person
  body[f[kind .. "_lines"]] = mlhost.json.array(lines)
  body[f[kind .. "_zip"]] = address.zip
  body[f[kind .. "_city"]] = address.city
  body[f[kind .. "_country"]] = address.country_code
end

--- The sales invoice carrying `reference` (the Shopify order name), or nil: the check before every creation.
---@param reference string
---@return table?
function Client:invoice_by_reference(reference)
  return self:first("invoice", { { field = self.fields.invoice_reference, op = "eq", value = reference } })
end

--- The delivery carrying `reference` (the Shopify fulfillment id), or nil.
---@param reference string
---@return table?
function Client:delivery_by_reference(reference)
  return self:first("delivery", { { field = self.fields.delivery_reference, op = "eq", value = reference } })
end

--- The purchase order whose `field` (default: its number, POHNUM) is `reference`, or nil.
---@param reference string
---@param field string? an X3 column of the purchase order
---@return table?
function Client:purchase_order_by(reference, field)
  return self:first("purchase_order", {
    { field = field or self.fields.purchase_order_number, op = "eq", value = reference },
  })
end

--- The supplier invoice of `supplier` whose supplier document number (BPRVCR) is `reference`, or nil: the check
--- before every creation (X3 keeps that number unique per supplier).
---@param supplier string
---@param reference string
---@return table?
function Client:supplier_invoice_by_reference(supplier, reference)
  local f = self.fields
  -- By the document number alone (selective, and a single equality X3 answers from an index), then the supplier.
  for row in self:query("supplier_invoice", {
    where = { { field = f.supplier_invoice_reference, op = "eq", value = reference } },
  }) do
    if row[f.supplier_invoice_supplier] == supplier then return row end
  end
  return nil
end

--- Rows of `role` ("stock" or "movement") changed at or after `since` (ISO 8601; nil: all), oldest first.
---@param role string
---@param since string?
---@return fun(): table?
function Client:changed_since(role, since)
  local f = self.fields
  return self:query(role, {
    where = since and { { field = f.updated, op = "ge", value = since, time = true } } or nil,
    order_by = { f.updated, f[_M.KEYS[role]] },
  })
end

return _M
