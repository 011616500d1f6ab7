--- Sage 300 Web API client (on-premise, IIS; API facts §5): `{url}{path}/{version}/-/{COMPANY}/{module}/{resource}`,
--- Basic auth with the Sage 300 user (upper-case; the host signs with the stored credential), `Content-Type:
--- application/json` on every request (Sage 300 answers 500 without it). Reads page with `$top`/`$skip` (or an
--- `@odata.nextLink` when the server gives one) and read counts in both spellings; writes are one record per request
--- and their failures are classified: Sage 300's OData error body is surfaced, a refusal of the content
--- (`RecordInvalid`, `RecordDuplicate`, `InvalidPayload`…) is a business error a person must fix, IIS/ARR HTML
--- pages (502/503), `TooManyRequests`, hangs and the cold start after an idle app pool are retried by the host
--- within the system's budgets — except that a POST or PATCH that may have reached Sage 300 is never repeated
--- blindly: the caller looks the document up first (`create_unique`, `insert_unique`).
local mlhost = mlhost
local http, json, log = mlhost.http, mlhost.json, mlhost.log
local system_error = require "sync.system_error"
local odata = require "sage300.odata"
local ipairs, pairs, tostring, tonumber, type, setmetatable, pcall, error =
  ipairs, pairs, tostring, tonumber, type, setmetatable, pcall, error

local _M = { odata = odata }

--- Sage 300 user IDs: upper-case letters and digits, at most 8 (API facts §5.2).
_M.USER = "^[A-Z][A-Z0-9_]*$"
_M.USER_LENGTH = 8
--- Company (database) IDs: upper-case, at most 6.
_M.COMPANY = "^[A-Z0-9]+$"
_M.COMPANY_LENGTH = 6
--- AR customer numbers (IDCUST): upper-case, at most 12.
_M.CUSTOMER = "^[A-Z0-9][A-Z0-9%-_]*$"
_M.CUSTOMER_LENGTH = 12
--- AR document numbers (IDINVC) are at most 22 characters.
_M.DOCUMENT_LENGTH = 22
--- Field lengths of ARCustomers that a create or update is cut to (CustomerName 60, Email 50, address lines 60).
_M.LENGTHS = {
  CustomerName = 60, ShortName = 10, Email = 50, AddressLine1 = 60, AddressLine2 = 60, City = 30,
  StateProvince = 30, ZipPostalCode = 20, Country = 30, PhoneNumber = 30, ContactName = 60,
}

--- The order each record's fields are sent in. Sage 300 puts a write's properties to its view in the order of the
--- JSON (API facts §5.4: "order matters"): key fields first, so that what follows lands on that record and a
--- customer or distribution code brings its defaults before the fields that override them; a record's own fields
--- before its detail collections, whose rows follow the same rule. The order is the facts' samples' (ARCustomers,
--- ARInvoiceBatches); a field they do not show comes after the ones they do (sorted, so a body is always sent the
--- same way), and `UpdateOperation`, an instruction rather than a field, after the keys.
---@class sage300.Shape
---@field fields string[] the fields in the order they are put
---@field details {[1]: string, [2]: sage300.Shape}[]? detail collections, last, in this order
local DETAIL = { fields = { "BatchNumber", "EntryNumber", "LineNumber", "UpdateOperation", "DistributionCode",
  "RevenueAccount", "Description", "Quantity", "ExtendedAmountWithTIP" } }
local SCHEDULE = { fields = { "BatchNumber", "EntryNumber", "PaymentNumber", "UpdateOperation", "AmountDue",
  "DueDate" } }
local INVOICE = {
  fields = { "BatchNumber", "EntryNumber", "UpdateOperation", "CustomerNumber", "DocumentType", "DocumentNumber",
    "DocumentDate", "DueDate", "PostingDate", "AsOfDate", "InvoiceType", "TransactionType", "InvoiceDescription",
    "PONumber", "OrderNumber", "DocumentTotalIncludingTax" },
  details = { { "InvoiceDetails", DETAIL }, { "InvoicePaymentSchedules", SCHEDULE } },
}
_M.SHAPES = {
  ["AR/ARCustomers"] = { fields = { "CustomerNumber", "ShortName", "GroupCode", "NationalAccount", "Status",
    "OnHold", "CustomerName", "AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4", "City", "StateProvince",
    "ZipPostalCode", "Country", "ContactName", "PhoneNumber", "AccountSet", "BillingCycle", "InterestProfile",
    "CurrencyCode", "PrintStatements", "AccountType", "Terms", "TaxGroup", "CreditLimitCustomerCurrency",
    "CustomerPriceList", "Email" } },
  ["AR/ARInvoiceBatches"] = { fields = { "BatchNumber", "BatchDate", "BatchStatus", "Description" },
    details = { { "Invoices", INVOICE } } },
}

--- Marks `body` (and the rows of its detail collections) to encode its fields in `shape`'s order; answers `body`.
---@param body table
---@param shape sage300.Shape
---@return table
function _M.ordered(body, shape)
  local names, known = {}, {}
  for _, name in ipairs(shape.fields) do
    known[name] = true
    if body[name] ~= nil then names[#names + 1] = name end
  end
  for _, detail in ipairs(shape.details or {}) do known[detail[1]] = true end
  local plain, nested = {}, {}
  for k, v in pairs(body) do
    if type(k) == "string" and not known[k] then
      local list = type(v) == "table" and nested or plain
      list[#list + 1] = k
    end
  end
  table.sort(plain)
  table.sort(nested)
  for _, k in ipairs(plain) do names[#names + 1] = k end
  for _, k in ipairs(nested) do names[#names + 1] = k end
  for _, detail in ipairs(shape.details or {}) do
    local rows = body[detail[1]]
    if rows ~= nil then
      names[#names + 1] = detail[1]
      for _, row in ipairs(type(rows) == "table" and rows or {}) do
        if type(row) == "table" then _M.ordered(row, detail[2]) end
      end
    end
  end
  return json.ordered(body, names)
end

--- Why `user` cannot sign Sage 300 Web API requests, or nil when it can.
---@param user any
---@param allow_admin boolean? the site set AllowWebApiAccessForAdmin=true
---@return string?
function _M.user_problem(user, allow_admin)
  if type(user) ~= "string" or user == "" then return "the Sage 300 user ID is missing" end
  if user ~= user:upper() then
    return "'" .. user .. "' has lower-case letters: Sage 300 user IDs are upper-case and the Web API compares "
      .. "them as sent; write it as " .. user:upper() .. " (in the settings and in the stored credential)"
  end
  if #user > _M.USER_LENGTH or not user:match(_M.USER) then
    return "'" .. user .. "' is not a Sage 300 user ID (letters and digits, at most " .. _M.USER_LENGTH .. ")"
  end
  if user == "ADMIN" and not allow_admin then
    return "ADMIN is refused by the Sage 300 Web API unless AllowWebApiAccessForAdmin=true is set in both "
      .. "web.config files; create a user with the Web API security authorisation instead"
  end
  return nil
end

---@class sage300.Client
---@field system string
---@field base string the path up to `/-/`
---@field page_size integer
local Client = {}
Client.__index = Client

--- A client for one Sage 300 Web API. `settings`: `url` (scheme and host), `path` (default `/Sage300WebApi`),
--- `version` (default `v1.0`), `user` (the upper-case user ID the credential signs as; checked here, so a
--- lower-case one stops the load with the reason), `allow_admin`, `credential` (a `basic` credential), `timeout`
--- (default 120 s: large batch POSTs and the cold start after an idle app pool take long), `max_concurrent`
--- (default 2: IIS answers TooManyRequests beyond a few), `rate`, `retries`, `page_size` (default 100, the
--- Web API's own `PageSize`), TLS (`ca_bundle`, `verify_tls`) and `proxy`. `opts.batch_prefix`: how the
--- descriptions of the batches this client's user makes begin, where a document is looked for on a server that
--- refuses `any()` in `$filter`.
---@param settings table
---@param opts {batch_prefix: string?}?
---@return sage300.Client
function _M.client(settings, opts)
  local problem = _M.user_problem(settings.user, settings.allow_admin)
  if problem then error("sage300.user: " .. problem, 2) end
  local path = (settings.path or "/Sage300WebApi"):gsub("/+$", "")
  if path:sub(1, 1) ~= "/" then path = "/" .. path end
  local system = http.system {
    name = settings.name or "sage300", base_url = settings.url, credential = settings.credential,
    timeout = settings.timeout or 120, max_concurrent = settings.max_concurrent or 2, rate = settings.rate,
    burst = settings.rate and math.max(1, settings.rate // 2) or nil, retries = settings.retries,
    ca_bundle = settings.ca_bundle, verify_tls = settings.verify_tls, proxy = settings.proxy,
  }
  return setmetatable({
    system = system, base = path .. "/" .. (settings.version or "v1.0") .. "/-/", page_size = settings.page_size or 100,
    batch_prefix = opts and opts.batch_prefix, any_refused = false,
  }, Client)
end

--- The company ID checked: upper-case letters and digits, at most 6.
---@param company string
---@return string
function _M.company(company)
  if type(company) ~= "string" or not company:match(_M.COMPANY) or #company > _M.COMPANY_LENGTH then
    error("sage300: '" .. tostring(company) .. "' is not a Sage 300 company ID (upper-case, at most "
      .. _M.COMPANY_LENGTH .. " letters or digits)", 2)
  end
  return company
end

--- A key in the URL: a number bare (`ARInvoiceBatches(66)`), text quoted (`ARCustomers('1200')`), percent-encoded.
---@param key string|integer
---@return string
function _M.key(key)
  if math.type(key) == "integer" then return "(" .. key .. ")" end
  local quoted = odata.string(key):gsub("[^%w%-%._~']", function(c) return ("%%%02X"):format(c:byte()) end)
  return "(" .. quoted .. ")"
end

--- The text of an answer's error: the OData error (`{"error":{"code","message":{"value"}}}`, both message
--- shapes), or an IIS/ARR HTML page's title.
---@param res table
---@return string? text
---@return string? code the Sage 300 error code
function _M.describe(res)
  local body = res.json
  if type(body) == "table" and type(body.error) == "table" then
    local e = body.error
    local message = e.message
    if type(message) == "table" then message = message.value end
    local text = tostring(e.code or "Error") .. ": " .. tostring(message or "")
    local inner = e.innererror or e.details
    if type(inner) == "table" and inner.message then text = text .. " (" .. tostring(inner.message) .. ")" end
    return text, e.code and tostring(e.code) or nil
  end
  local text = res.body or ""
  local title = text:match("<[Tt][Ii][Tt][Ll][Ee]>%s*(.-)%s*</[Tt][Ii][Tt][Ll][Ee]>")
  if title then return "IIS: " .. title, nil end
  if #text > 0 and #text < 300 then return text, nil end
  return nil, nil
end

-- Sage 300 refusing the content: a person must fix the data (a GL account, a closed period, a duplicate
-- document); the same request would be refused again.
local BUSINESS = {
  RecordInvalid = true, RecordDuplicate = true, InvalidPayload = true, InvalidParameters = true,
  InvalidEntityKey = true, InvalidAction = true, General = true, MethodNotAllowed = true,
}

--- Checks one exchange. A Sage 300 refusal (a business code in a 4xx) raises kind "business" with Sage 300's code
--- and text, not retryable; a 5xx is retried (a POST/PATCH one as ambiguous: it may have committed); the rest as
--- `system_error.check` classifies it.
---@param what string
---@param res table?
---@param token string?
---@param detail table?
---@param mutating boolean
---@return table res
function _M.check(what, res, token, detail, mutating)
  if res and res.status >= 500 and not res.throttled then
    local text = _M.describe(res)
    system_error.raise({
      kind = "http", system = "sage300", status = res.status, retryable = true, ambiguous = mutating,
      retry_after = res.retry_after,
      message = "sage300: " .. what .. " answered " .. res.status .. (text and (": " .. text) or ""),
    })
  end
  if res and res.status >= 400 and res.status < 500 and not res.throttled then
    local text, code = _M.describe(res)
    if res.status == 404 and code then
      -- RecordNotFound (no such record) and ResourceNotFound (no such resource on this server) differ.
      system_error.raise({
        kind = "not_found", system = "sage300", status = 404, retryable = false, code = code,
        message = "sage300: " .. what .. " answered 404: " .. text,
      })
    end
    if code and BUSINESS[code] then
      system_error.raise({
        kind = "business", system = "sage300", status = res.status, retryable = false, code = code,
        message = "sage300: " .. what .. " refused: " .. text,
      })
    end
  end
  return system_error.check("sage300", what, res, token, detail, function(r) return (_M.describe(r)) end)
end

--- The path of `resource` ("AR/ARCustomers") in `company`, with a key if given.
---@param company string
---@param resource string
---@param key (string|integer)?
---@return string
function Client:path(company, resource, key)
  if type(resource) ~= "string" or not resource:match("^%u%u/[%w$()]+$") then
    error("sage300: '" .. tostring(resource) .. "' is not a module/resource (AR/ARCustomers)", 3)
  end
  return self.base .. _M.company(company) .. "/" .. resource .. (key ~= nil and _M.key(key) or "")
end

--- One request; `opts`: `method`, `path` or `url`, `query`, `json`, and `resource` ("AR/ARCustomers") for a write,
--- whose body is then sent in the order its view takes (`SHAPES`). Every request carries the JSON content type.
---@param what string
---@param opts table
---@return table res
function Client:call(what, opts)
  opts.system, opts.decimals = self.system, true
  if opts.json ~= nil and opts.resource then _M.ordered(opts.json, _M.SHAPES[opts.resource] or { fields = {} }) end
  opts.resource = nil
  opts.headers = { ["Content-Type"] = "application/json", Accept = "application/json" }
  local res, token, detail = http.request(opts)
  local method = opts.method or "GET"
  return _M.check(what, res, token, detail, method == "POST" or method == "PATCH" or method == "PUT")
end

--- The number in a count field, given as a string (`"625"`, the documented form) or a number.
local function count_of(body)
  local n = body["@odata.count"] or body["odata.count"]
  return n ~= nil and tonumber(tostring(n)) or nil
end

--- The next page's link, in either spelling.
local function next_link(body)
  return body["@odata.nextLink"] or body["odata.nextLink"]
end

--- Rows of `resource` in `company` matching `opts` (`filter`, `select`, `orderby`; `top` = page size, default the
--- client's), every page: a server `@odata.nextLink` is followed when given; otherwise `$skip` moves by what came
--- back, and paging ends when a page is short — or, since the server may cap `$top` at its own `PageSize`, when
--- the count (asked on the first page) is reached.
---@param company string
---@param resource string
---@param opts sage300.QueryOptions?
---@return fun(): table?
function Client:query(company, resource, opts)
  opts = opts or {}
  local path = self:path(company, resource)
  local top = opts.top or self.page_size
  local skip = opts.skip or 0
  local total, link, page, i, done = nil, nil, nil, 0, false
  local function fetch()
    local res
    if link then
      res = self:call("query " .. resource, { url = link })
    else
      res = self:call("query " .. resource, { path = path, query = odata.query({
        filter = opts.filter, select = opts.select, orderby = opts.orderby, top = top, skip = skip,
        count = total == nil,
      }) })
    end
    local body = res.json
    if type(body) ~= "table" then
      system_error.raise({ kind = "http", system = "sage300", retryable = true,
        message = "sage300: query " .. resource .. " answered " .. res.status .. " without a JSON body" })
    end
    total = total or count_of(body)
    local rows = body.value or {}
    skip = skip + #rows
    link = next_link(body)
    if not link and (#rows == 0 or (#rows < top and (total == nil or skip >= total)) or
      (total ~= nil and skip >= total)) then
      done = true
    end
    return rows
  end
  return function()
    while true do
      if page and i < #page then
        i = i + 1
        return page[i]
      end
      if done then return nil end
      page, i = fetch(), 0
    end
  end
end

--- How many rows of `resource` match `filter`: the `/$count` segment (a bare number), or `$count=true` with
--- `$top=0` when `inline`.
---@param company string
---@param resource string
---@param filter (sage300.Condition|table)[]|string?
---@param inline boolean?
---@return integer
function Client:count(company, resource, filter, inline)
  local query = odata.query({ filter = filter, top = inline and 0 or nil, count = inline })
  if inline then
    local res = self:call("count " .. resource, { path = self:path(company, resource), query = query })
    return count_of(res.json) or 0
  end
  local res = self:call("count " .. resource, { path = self:path(company, resource) .. "/$count", query = query })
  return tonumber((res.body or ""):match("%d+")) or 0
end

--- The first row matching `filter`, or nil.
---@param company string
---@param resource string
---@param filter (sage300.Condition|table)[]|string
---@param select string[]?
---@return table?
function Client:first(company, resource, filter, select)
  local res = self:call("query " .. resource, { path = self:path(company, resource),
    query = odata.query({ filter = filter, select = select, top = 1 }) })
  local rows = type(res.json) == "table" and res.json.value or {}
  return rows[1]
end

--- The row of `resource` with `key`, or nil when the server answers 404, with Sage 300's code: `RecordNotFound`
--- (no such record), `ResourceNotFound` (the server does not serve the resource), or nil (a 404 with no OData
--- error: an IIS page for a path the server does not know).
---@param company string
---@param resource string
---@param key string|integer
---@return table? row
---@return string? code
function Client:read(company, resource, key)
  local ok, res = pcall(self.call, self, "read " .. resource .. " " .. tostring(key),
    { path = self:path(company, resource, key) })
  if ok then return res.json end
  if system_error.is(res, "not_found") then return nil, res.code end
  error(res, 0)
end

--- Inserts one record (header and nested details); returns it as Sage 300 stored it, with its generated keys. Never
--- repeated by the host after an ambiguous failure: see `create_unique`.
---@param company string
---@param resource string
---@param body table
---@return table
function Client:create(company, resource, body)
  local res = self:call("create " .. resource, { method = "POST", path = self:path(company, resource), json = body,
    resource = resource })
  return res.dry_run and body or res.json
end

--- Changes fields of the record `key` (details with `UpdateOperation`); returns the record.
---@param company string
---@param resource string
---@param key string|integer
---@param body table
---@return table
function Client:patch(company, resource, key, body)
  local res = self:call("update " .. resource .. " " .. tostring(key),
    { method = "PATCH", path = self:path(company, resource, key), json = body, resource = resource })
  return (res.dry_run or type(res.json) ~= "table") and body or res.json
end

--- Sends a write unless its result exists: when the write fails without Sage 300 refusing it (a 5xx, an ARR 502,
--- a timeout, a dropped connection) it may have committed all the same, so `find()` looks it up: found, it is the
--- answer; absent, the failure is raised as retryable and the record's next attempt writes it. A refusal raises at
--- once; `find` is asked then too when `duplicate` says the refusal can mean "already there" (a duplicate key or
--- document after an earlier attempt committed).
---@param write fun(): table
---@param find fun(): table?
---@param duplicate (fun(err: stdlib.SystemError): boolean)?
---@return table row
---@return boolean? found true when the row was found rather than written now
function _M.unique(write, find, duplicate)
  local ok, result = pcall(write)
  if ok then return result end
  if not system_error.is(result) then error(result, 0) end
  if result.kind == "business" then
    if duplicate and duplicate(result) then
      local found = find()
      if found then return found, true end
    end
    error(result, 0)
  end
  if not (result.retryable or result.ambiguous) then error(result, 0) end
  local found = find()
  if found then return found, true end
  result.retryable = true
  error(result, 0)
end

--- `create` unless `find()` shows the record is there (see `unique`); a `RecordDuplicate` refusal is looked up too.
---@param company string
---@param resource string
---@param body table
---@param find fun(): table?
---@return table row
---@return boolean? found
function Client:create_unique(company, resource, body, find)
  return _M.unique(function() return self:create(company, resource, body) end, find,
    function(err) return err.code == "RecordDuplicate" end)
end

--- Rows of `resource` whose date `field` (e.g. `DateLastMaintained`, a date without time) is on or after the day
--- of `since` (nil: all), oldest first, then by `key`. A date-only field cannot say which changes of the boundary
--- day were already read, so that day is read again: the caller skips what it saw (`day_cursor`).
---@param company string
---@param resource string
---@param field string
---@param key string
---@param since string?
---@param select string[]?
---@return fun(): table?
function Client:changed_since(company, resource, field, key, since, select)
  local filter = since and { { field = field, op = "ge", value = { datetime = since:sub(1, 10) } } } or nil
  return self:query(company, resource, { filter = filter, orderby = { field, key }, select = select })
end

---@class sage300.DayCursor
---@field day string? the last day read (YYYY-MM-DD)
---@field seen table<string, boolean> versions already handled on `day`
local DayCursor = {}
DayCursor.__index = DayCursor

--- A cursor over a date-only field, stored as JSON in the job's cursor `name`: the next read starts at its day
--- again (`changed_since`), and `seen` tells which versions (key + what changed) of that day were handled, so the
--- re-read of the boundary day repeats nothing, while a second change on the same day is a new version.
---@param job mlhost.Job
---@param name string
---@return sage300.DayCursor
function _M.day_cursor(job, name)
  local self = setmetatable({ job = job, name = name, seen = {} }, DayCursor)
  local stored = job:cursor(name)
  local v = stored and json.decode(stored)
  if type(v) == "table" then
    self.day = v.day
    for _, id in ipairs(v.seen or {}) do self.seen[id] = true end
  end
  return self
end

--- Whether `version` on `day` was handled by an earlier read.
---@param day string
---@param version string
---@return boolean
function DayCursor:was_seen(day, version)
  day = tostring(day):sub(1, 10)
  return self.day ~= nil and (day < self.day or (day == self.day and self.seen[version] == true))
end

--- Notes that `version` on `day` was handled.
---@param day string
---@param version string
function DayCursor:advance(day, version)
  day = tostring(day):sub(1, 10)
  if self.day == nil or day > self.day then
    self.day, self.seen = day, {}
  elseif day < self.day then
    return
  end
  self.seen[version] = true
end

--- Persists the cursor, after the records it covers have committed.
function DayCursor:save()
  if not self.day then return end
  local seen = {}
  for id in pairs(self.seen) do seen[#seen + 1] = id end
  table.sort(seen)
  self.job:advance_cursor(self.name, json.encode({ day = self.day, seen = json.array(seen) }))
end

-- AR and GL -------------------------------------------------------------------------------------------------

--- The customer number checked: upper-case, at most 12 characters.
---@param number string
---@return string? number
---@return string? problem
function _M.customer_number(number)
  if type(number) ~= "string" or number ~= number:upper() or not number:match(_M.CUSTOMER) then
    return nil, "'" .. tostring(number) .. "' is not a Sage 300 customer number (upper-case letters, digits, - and _)"
  end
  if #number > _M.CUSTOMER_LENGTH then
    return nil, "customer number " .. number .. " is longer than " .. _M.CUSTOMER_LENGTH .. " characters"
  end
  return number
end

--- `fields` cut to the lengths ARCustomers takes (by characters, never inside a UTF-8 sequence).
---@param fields table
---@return table
function _M.fit(fields)
  local out = {}
  for k, v in pairs(fields) do
    local limit = _M.LENGTHS[k]
    if limit and type(v) == "string" and utf8.len(v) and utf8.len(v) > limit then
      v = v:sub(1, (utf8.offset(v, limit + 1) or (#v + 1)) - 1)
    end
    out[k] = v
  end
  return out
end

--- The customer `number`, or nil.
---@param company string
---@param number string
---@return table?
function Client:customer(company, number)
  return self:read(company, "AR/ARCustomers", number)
end

--- The customer whose `Email` is `email`, or nil. Sage 300 compares as stored, so both the address as given and in
--- lower case are asked.
---@param company string
---@param email string
---@return table?
function Client:customer_by_email(company, email)
  local forms = { { field = "Email", op = "eq", value = email } }
  if email:lower() ~= email then forms[2] = { field = "Email", op = "eq", value = email:lower() } end
  return self:first(company, "AR/ARCustomers", { forms })
end

--- Creates the customer `body` (its `CustomerNumber` checked, fields cut to length) unless it exists: an ambiguous
--- failure or a `RecordDuplicate` reads it back.
---@param company string
---@param body table
---@return table customer
---@return boolean? found it existed already
function Client:create_customer(company, body)
  local number, problem = _M.customer_number(body.CustomerNumber)
  if not number then error(problem, 2) end
  return self:create_unique(company, "AR/ARCustomers", _M.fit(body),
    function() return self:customer(company, number) end)
end

--- Changes fields of customer `number` (cut to length); safe to repeat.
---@param company string
---@param number string
---@param changes table
---@return table
function Client:update_customer(company, number, changes)
  local body = _M.fit(changes)
  body.CustomerNumber = number
  return self:patch(company, "AR/ARCustomers", number, body)
end

--- The GL account `account` (unformatted, as the details carry it), or nil.
---@param company string
---@param account string
---@return table?
function Client:gl_account(company, account)
  return self:read(company, "GL/GLAccounts", account)
end

--- The AR distribution code `code`; nil when Sage 300 has none (`RecordNotFound`); false when the server does
--- not serve `AR/ARDistributionCodes` (it is not among the resources the API facts list), so the code can only be
--- checked by Sage 300 when the invoice is inserted.
---@param company string
---@param code string
---@return table|false|nil
function Client:distribution_code(company, code)
  local row, why = self:read(company, "AR/ARDistributionCodes", code)
  if row == nil and why ~= "RecordNotFound" then return false end
  return row
end

--- Whether `e` is a server refusing the `any()` lambda in `$filter` (the API facts list only comparison operators
--- and `substringof`/`startswith`/`endswith`/`length`, and call nested filters unverified).
local function refuses_any(e)
  return type(e) == "table" and (e.status == 400 or e.status == 501 or e.code == "InvalidParameters")
end

--- The invoice entry whose `DocumentNumber` is `document` (of `customer`, when given) in any AR invoice batch:
--- `{batch, entry, status, invoice}`, or nil. Asked with `Invoices/any(…)`; a server that refuses it is asked,
--- from then on, for the batches whose description starts with `batch_prefix` (this connector's), matched here.
---@param company string
---@param document string
---@param customer string?
---@return {batch: integer, entry: integer, status: string, invoice: table}?
function Client:invoice_by_document(company, document, customer)
  local function match(batch)
    for _, invoice in ipairs(batch.Invoices or {}) do
      if invoice.DocumentNumber == document and (customer == nil or invoice.CustomerNumber == customer) then
        return { batch = batch.BatchNumber, entry = invoice.EntryNumber, status = batch.BatchStatus, invoice = invoice }
      end
    end
    return nil
  end
  if not self.any_refused then
    local conditions = { { field = "DocumentNumber", op = "eq", value = document } }
    if customer then conditions[2] = { field = "CustomerNumber", op = "eq", value = customer } end
    local ok, found = pcall(function()
      for batch in self:query(company, "AR/ARInvoiceBatches", { filter = { odata.any("Invoices", conditions) },
        orderby = { "BatchNumber" } }) do
        local hit = match(batch)
        if hit then return hit end
      end
      return false
    end)
    if ok then return found or nil end
    if not refuses_any(found) then error(found, 0) end
    self.any_refused = true
    log.warn("sage300: the server refuses any() in $filter; documents are found by scanning this "
      .. "connector's batches", { company = company, reason = found.message })
  end
  if not self.batch_prefix then
    error("sage300: the server refuses any() in $filter and no batch_prefix says which batches to scan", 2)
  end
  for batch in self:query(company, "AR/ARInvoiceBatches", {
    filter = { { field = "Description", op = "startswith", value = self.batch_prefix } }, orderby = { "BatchNumber" },
  }) do
    local hit = match(batch)
    if hit then return hit end
  end
  return nil
end

--- AR invoice batches still `Open` whose description starts with `prefix` (this connector's), by number.
---@param company string
---@param prefix string
---@return table[]
function Client:open_batches(company, prefix)
  local out = {}
  for batch in self:query(company, "AR/ARInvoiceBatches", {
    filter = { { field = "BatchStatus", op = "eq", value = "Open" }, { field = "Description", op = "startswith",
      value = prefix } },
    select = { "BatchNumber", "BatchStatus", "Description", "BatchDate" }, orderby = { "BatchNumber" },
  }) do
    out[#out + 1] = batch
  end
  return out
end

--- The batch described `description`, or nil: the look-up after an ambiguous batch creation.
---@param company string
---@param description string
---@return table?
function Client:batch_by_description(company, description)
  return self:first(company, "AR/ARInvoiceBatches", { { field = "Description", op = "eq", value = description } })
end

--- Creates an AR invoice batch with its first invoices (`Invoices`, each with `InvoiceDetails`); keys are generated.
--- Its `Description` must be unique (the look-up after an ambiguous failure).
---@param company string
---@param batch table
---@return table batch as stored, with `BatchNumber`
---@return boolean? found
function Client:create_batch(company, batch)
  return self:create_unique(company, "AR/ARInvoiceBatches", batch,
    function() return self:batch_by_description(company, batch.Description) end)
end

--- Adds `invoice` to open batch `number` (`UpdateOperation: Insert`); an ambiguous failure looks the document up
--- instead of sending it again, and a refusal is looked up too (the document may be there from an earlier attempt).
--- Returns the entry `{batch, entry, status, invoice}` and whether it was found rather than added.
---@param company string
---@param number integer
---@param invoice table with `DocumentNumber` and `CustomerNumber`
---@return {batch: integer, entry: integer, status: string, invoice: table}
---@return boolean? found
function Client:add_invoice(company, number, invoice)
  local entry = {}
  for k, v in pairs(invoice) do entry[k] = v end
  entry.UpdateOperation, entry.BatchNumber = "Insert", number
  local function find() return self:invoice_by_document(company, invoice.DocumentNumber, invoice.CustomerNumber) end
  local result, found = _M.unique(function()
    return self:patch(company, "AR/ARInvoiceBatches", number, { BatchNumber = number, Invoices = { entry } })
  end, find, function(err) return err.code == "RecordDuplicate" or err.code == "RecordInvalid" end)
  if found then return result, true end
  -- The batch as it is now: this invoice's entry is in it (Sage 300 numbered it).
  for _, added in ipairs(type(result) == "table" and result.Invoices or {}) do
    if added.DocumentNumber == invoice.DocumentNumber and added.CustomerNumber == invoice.CustomerNumber then
      return { batch = number, entry = added.EntryNumber, status = result.BatchStatus, invoice = added }, false
    end
  end
  local where = find() or error({ message = "sage300: invoice " .. invoice.DocumentNumber .. " was added to batch "
    .. number .. " but cannot be read back", retryable = true })
  return where, false
end

--- Posting, its own step: sets batch `number` `ReadyToPost`. A batch already ready or posted is left alone (it was
--- posted by an earlier attempt), so no batch is posted twice. Setting the status is the same change however often
--- it is asked, so after a failure the batch is read again and, still open, asked again (three times at most).
--- Returns the status it has now and whether this call changed it.
---@param company string
---@param number integer
---@return string status
---@return boolean changed
function Client:post_batch(company, number)
  local last
  for _ = 1, 3 do
    local batch = self:read(company, "AR/ARInvoiceBatches", number)
    if not batch then
      system_error.raise({ kind = "business", system = "sage300", retryable = false,
        message = "sage300: AR invoice batch " .. number .. " of " .. company .. " does not exist" })
    end
    if batch.BatchStatus ~= "Open" then return batch.BatchStatus, false end
    if last and system_error.is(last, "business") then error(last, 0) end  -- refused while open: a real refusal
    local ok, err = pcall(self.patch, self, company, "AR/ARInvoiceBatches", number,
      { BatchNumber = number, BatchStatus = "ReadyToPost" })
    if ok then
      log.info("sage300: AR invoice batch ready to post", { company = company, batch = number })
      return "ReadyToPost", true
    end
    if not system_error.is(err) or not (err.kind == "business" or err.retryable or err.ambiguous) then error(err, 0) end
    last = err
  end
  error(last, 0)
end

return _M
