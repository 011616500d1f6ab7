--- X3 sales invoices (and credit notes) from a normalised `stdlib.Order`, for every storefront pairing: one line per
--- order line and per charged shipping line, each with its X3 tax level and GL accounts by the tax rate, the cost
--- centre of the sales site, and the GL dimensions checked in X3 (present and enabled) before anything is posted.
--- The allocation (account, cost centre, amount per line) is kept for the audit row. Where a line's item and sales
--- account come from is the pairing's (`opts.target`): a SKU and the item's product class, or a product mapping.
local mlhost = mlhost
local money, time = mlhost.money, mlhost.time
local reconcile = require "sync.reconcile"
local ipairs, pairs, tostring, type, setmetatable = ipairs, pairs, tostring, type, setmetatable

local _M = {}

---@class sagex3.InvoiceBuilder
---@field erp sagex3.Client
---@field known table<string, {row: table, at: number}>
local Builder = {}
Builder.__index = Builder

local WHAT = { item = "item", account = "GL account", cost_centre = "cost centre" }

--- A builder for `erp`. `opts`: `site` (the sales site, SALFCY), `cost_centres`, `tax_levels` and `tax_accounts`
--- (`stdlib.Mapping`s: site → cost centre, rate key → X3 tax level code / GL tax account), `freight`
--- ({item, account}: shipping becomes a line of this item on this account), `credit_note_type`,
--- `refund_reference_prefix` (a refund's credit note carries it and the refund id as its reference), `status` (a
--- function giving the invoice status field's value for an order, or nil), and `target(builder, line, reject)`
--- answering the line's X3 item code and GL sales account.
---@param erp sagex3.Client
---@param opts table
---@return sagex3.InvoiceBuilder
function _M.builder(erp, opts)
  return setmetatable({ erp = erp, opts = opts, known = {} }, Builder)
end

--- The X3 row of `role` ("item", "account" or "cost_centre") with `code`, if it exists and (accounts and cost
--- centres) is enabled; otherwise nil and the problem. Rows found are kept five minutes, so a posting asks once,
--- not per line; problems are never kept, so a replay after the fix sees the fix.
---@param role string
---@param code string
---@return table? row
---@return string? problem
function Builder:row(role, code)
  local hit = self.known[role .. ":" .. code]
  if hit and time.now() - hit.at < 300 then return hit.row end
  local row = self.erp:read(role, code)
  local what = WHAT[role] .. " " .. code
  if not row then return nil, what .. " does not exist in X3" end
  if role ~= "item" then
    local enabled, why = self.erp:enabled(row, what)
    if not enabled then return nil, why end
  end
  self.known[role .. ":" .. code] = { row = row, at = time.now() }
  return row
end

--- One X3 document line, under this installation's field names.
---@return table
function Builder:line_body(item, quantity, price, net, tax, level, account, centre)
  local F = self.erp.fields
  return {
    [F.line_item] = item, [F.line_quantity] = quantity, [F.line_price] = reconcile.cents(price),
    [F.line_net] = reconcile.cents(net), [F.line_tax] = reconcile.cents(tax), [F.line_tax_level] = level,
    [F.line_account] = account, [F.line_cost_centre] = centre,
  }
end

--- The X3 invoice (or credit note, `kind`) for `order` (or for what a refund gave back, shaped as an order whose
--- lines carry their own `net`), with its GL allocation and its net and tax totals; `reject` parks the record for
--- anything a person must fix.
---@param reject fun(reason: string)
---@param order stdlib.Order
---@param customer_code string
---@param kind {type: string, origin: string?, reference: string?}
---@return table body
---@return table allocation
---@return mlhost.Decimal net
---@return mlhost.Decimal tax
function Builder:build(reject, order, customer_code, kind)
  local o, F = self.opts, self.erp.fields
  local lines, allocation, tax_total = {}, {}, money.new("0")
  local centre = o.cost_centres:get(o.site)
  local _, centre_problem = self:row("cost_centre", centre)
  if centre_problem then reject(centre_problem .. " (cost centre of site " .. o.site .. ")") end
  local net_total = money.new("0")

  --- A line's tax level and tax account, both by its rate ("8.25"), and the accounts checked.
  local function taxed(where, rate, account)
    local key = reconcile.rate_key(rate)
    local level = o.tax_levels:get(key) or reject("no X3 tax level mapped for " .. key .. " % tax (" .. where .. ")")
    local tax_account = o.tax_accounts:get(key) or reject("no GL tax account mapped for " .. key .. " % tax")
    for _, acc in ipairs({ account, tax_account }) do
      local _, problem = self:row("account", acc)
      if problem then reject(problem .. " (" .. where .. ")") end
    end
    return level, tax_account
  end

  local function add(where, sku, item, quantity, price, net, tax, rate, account)
    local level, tax_account = taxed(where, rate, account)
    net_total = net_total + net
    tax_total = tax_total + tax
    lines[#lines + 1] = self:line_body(item, quantity, price, net, tax, level, account, centre)
    allocation[#allocation + 1] = { line = #lines, sku = sku, account = account, cost_centre = centre, amount = net }
    allocation[#allocation + 1] = {
      line = #lines, sku = sku, account = tax_account, cost_centre = centre, amount = tax,
    }
  end

  for i, line in ipairs(order.lines) do
    local code, account = o.target(self, line, reject)
    local net = line.net or money.round(line.unit_price * line.quantity, 2, "half_up")
    local label = line.sku or line.product_id or line.name
    add("line " .. i .. ", " .. tostring(label), label, code, line.quantity, line.unit_price, net, line.tax,
      line.tax_rate, account)
  end
  for i, ship in ipairs(order.shipping or {}) do
    if money.cmp(ship.price, 0) ~= 0 or money.cmp(ship.tax, 0) ~= 0 then
      local account = o.freight.account
        or reject("it has shipping but no freight account is set (freight.account)")
      local _, item_problem = self:row("item", o.freight.item)
      if item_problem then reject("freight item: " .. item_problem .. " (freight.item)") end
      add("shipping " .. i .. ", " .. tostring(ship.title), "shipping", o.freight.item, 1, ship.price, ship.price,
        ship.tax, ship.tax_rate, account)
    end
  end
  local body = {
    [F.invoice_type] = kind.type, [F.invoice_site] = o.site, [F.invoice_customer] = customer_code,
    [F.invoice_date] = order.created_at:sub(1, 10), [F.invoice_currency] = order.currency,
    [F.invoice_net] = reconcile.cents(net_total), [F.invoice_gross] = reconcile.cents(order.total),
    [F.invoice_lines] = lines,
  }
  if kind.reference then body[F.invoice_reference] = kind.reference end
  if o.status and kind.type ~= o.credit_note_type then body[F.invoice_status] = o.status(order) end
  if kind.origin then body[F.invoice_origin] = kind.origin end
  return body, allocation, net_total, tax_total
end

--- The credit note of invoice `number` (linked by `invoice_origin`), or nil.
---@param number string
---@return table?
function Builder:credit_note_of(number)
  local F = self.erp.fields
  return self.erp:first("credit_note", {
    { field = F.invoice_origin, op = "eq", value = number },
    { field = F.invoice_type, op = "eq", value = self.opts.credit_note_type },
  })
end

--- The credit note made for one refund (its `reference`) of invoice `number`, or nil.
---@param number string
---@param reference string
---@return table?
function Builder:refund_credit_of(number, reference)
  local F = self.erp.fields
  return self.erp:first("credit_note", {
    { field = F.invoice_origin, op = "eq", value = number },
    { field = F.invoice_reference, op = "eq", value = reference },
  })
end

--- Whether credit note `row` credits one refund (it carries the refund's reference) rather than the whole order.
---@param row table
---@return boolean
function Builder:credits_one_refund(row)
  local reference = row[self.erp.fields.invoice_reference]
  return type(reference) == "string" and reference ~= ""
end

--- Each of `refunds` (the storefront's refunds of `order`, oldest first) not credited yet becomes a credit note of
--- `invoice` for what that refund gave back: its lines at their order lines' tax rates (and items and accounts), and
--- its shipping at the order's shipping rate. It carries `refund_reference_prefix` and the refund id as its
--- reference and is looked up by that and the invoice before it is created, so a refund delivered or polled again,
--- or retried after X3 answered 5xx having committed, is credited once. A refund whose lines and shipping do not
--- add up to what it gave back (an amount refunded on its own) is rejected with both figures: credit it by hand.
---@param reject fun(reason: string)
---@param order stdlib.Order
---@param invoice table the X3 invoice row
---@param refunds stdlib.Refund[]
---@return table[] made `{refund, credit_note, total}` per credit note made now
function Builder:credit_refunds(reject, order, invoice, refunds)
  local F = self.erp.fields
  local number, made, sold = invoice[F.invoice_number], {}, {}
  for _, line in ipairs(order.lines) do sold[line.id] = line end
  for _, refund in ipairs(refunds) do
    local reference = self.opts.refund_reference_prefix .. refund.id
    if not self:refund_credit_of(number, reference) then
      local lines, shipping = {}, {}
      for i, l in ipairs(refund.lines) do
        local line = sold[l.line_id]
          or reject("refund " .. refund.id .. " gives back line " .. tostring(l.line_id) .. ", not one of the order's")
        -- The order line as sold (its item, product, tax rate), for the quantity and amounts this refund gave back.
        local given = {}
        for k, v in pairs(line) do given[k] = v end
        given.quantity, given.net, given.tax = l.quantity, l.net, l.tax
        lines[i] = given
      end
      if money.cmp(refund.shipping.net, 0) ~= 0 or money.cmp(refund.shipping.tax, 0) ~= 0 then
        local first = order.shipping[1]
        shipping[1] = {
          title = "refunded shipping", price = refund.shipping.net, tax = refund.shipping.tax,
          tax_rate = first and first.tax_rate,
        }
      end
      local body, _, net, tax = self:build(reject, {
        created_at = refund.created_at, currency = order.currency, lines = lines, shipping = shipping,
        total = refund.total,
      }, invoice[F.invoice_customer], { type = self.opts.credit_note_type, origin = number, reference = reference })
      if money.cmp(net + tax, refund.total) ~= 0 then
        reject("refund " .. refund.id .. " gave back " .. reconcile.cents(refund.total) .. " but its lines and shipping"
          .. " come to " .. reconcile.cents(net + tax) .. "; credit it in X3 by hand")
      end
      local created = self.erp:create_unique("credit_note", body, function()
        return self:refund_credit_of(number, reference)
      end)
      made[#made + 1] = { refund = refund.id, credit_note = created[F.invoice_number], total = refund.total }
    end
  end
  return made
end

return _M
