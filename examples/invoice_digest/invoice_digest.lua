--- A small connector that shows the host's API: every few seconds it "fetches" a page of orders (a JSON text
--- standing in for an HTTP response), totals them exactly, splits a shipping charge across the lines without
--- losing a cent, signs the digest with HMAC and logs it.
local json = require "mlhost.json"
local money = require "mlhost.money"
local crypto = require "mlhost.crypto"
local log = require "mlhost.log"

local c = mlhost.connector {
  name = "invoice_digest",
  description = "Totals a page of orders and logs a signed digest.",
  settings = require "invoice_digest_schema",
}

local PAGE = [[
{"orders": [
  {"id": 5678901234567890123, "name": "#1001", "customer": "Zoë Faure", "lines": [
    {"sku": "TSHIRT-M", "qty": 2, "price": 19.99}, {"sku": "MUG", "qty": 1, "price": 8.50}]},
  {"id": 5678901234567890124, "name": "#1002", "customer": "Ana Lima", "lines": [
    {"sku": "POSTER", "qty": 3, "price": 12.30}]},
  {"id": 5678901234567890125, "name": "#1003", "customer": "Li Wei", "note": null, "lines": []}
]}
]]

---@param order table
---@return mlhost.Decimal
local function order_total(order)
  local amounts = {}
  for i, line in ipairs(order.lines) do
    amounts[i] = line.price * line.qty
  end
  return money.sum(amounts)
end

c:every(c.settings.interval, "digest", function(job)
  -- A real connector would call mlhost.http here; the sleep stands in for the round trip.
  mlhost.sleep(0.05)
  local page, err = json.decode(PAGE, { decimals = true })
  if not page then
    error("page did not decode: " .. err)
  end

  local totals = mlhost.each(page.orders, c.settings.concurrency, function(order)
    return order_total(order)
  end)
  local grand = money.sum(totals)
  local shipping = money.allocate(c.settings.shipping, totals)

  local digest = {}
  for i, order in ipairs(page.orders) do
    digest[i] = { id = order.id, name = order.name, total = totals[i], shipping = shipping[i] }
  end
  local body = json.encode({ run = job.run_id, orders = digest, grand_total = grand })
  log.info("digest ready", {
    orders = #digest,
    grand_total = money.format(grand, 2),
    shipping_split = table.concat((function()
      local parts = {}
      for i, s in ipairs(shipping) do parts[i] = tostring(s) end
      return parts
    end)(), " + "),
    signature = crypto.hmac("sha256", c.settings.signing_label, body, "base64"),
  })
  return grand
end)

return c
