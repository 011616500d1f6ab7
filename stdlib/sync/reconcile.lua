--- Money reconciliation: the lines of a document plus its tax must equal its total, to the cent, before anything
--- is posted. Amounts are exact decimals (`mlhost.money`), never floats.
local money = require "mlhost.money"
local ipairs = ipairs

local _M = {}

--- Checks a normalised order: Σ(quantity × unit price, or the line's own `net` where the store gives one)
--- + Σ shipping + Σ tax of lines and shipping = total, and
--- Σ tax of lines and shipping = total tax. Returns true, or false and a message naming the figures.
---@param order stdlib.Order
---@return boolean ok
---@return string? problem
---@return {goods: mlhost.Decimal, shipping: mlhost.Decimal, net: mlhost.Decimal, tax: mlhost.Decimal}? sums
function _M.order(order)
  local goods, shipping, tax = money.new("0"), money.new("0"), money.new("0")
  for _, line in ipairs(order.lines) do
    goods = goods + (line.net or money.round(line.unit_price * line.quantity, 2, "half_up"))
    tax = tax + line.tax
  end
  for _, line in ipairs(order.shipping or {}) do
    shipping = shipping + line.price
    tax = tax + line.tax
  end
  local net = goods + shipping
  local sums = { goods = goods, shipping = shipping, net = net, tax = tax }
  if money.cmp(tax, order.total_tax) ~= 0 then
    return false, "line and shipping taxes add up to " .. money.format(tax, 2) .. " but the order's tax is "
      .. money.format(order.total_tax, 2), sums
  end
  if money.cmp(net + tax, order.total) ~= 0 then
    return false, "lines " .. money.format(goods, 2) .. " + shipping " .. money.format(shipping, 2) .. " + tax "
      .. money.format(tax, 2) .. " = " .. money.format(net + tax, 2) .. " but the order's total is "
      .. money.format(order.total, 2), sums
  end
  return true, nil, sums
end

--- A tax rate (a fraction, 0.0825) as the key of a table by percentage: "8.25", "19", "0" — the decimals it has,
--- no trailing zeros, never rounded to a whole percent.
---@param rate mlhost.Decimal?
---@return string
function _M.rate_key(rate)
  if rate == nil then return "0" end
  local text = money.format(money.mul(rate, 100))
  if text:find(".", 1, true) then text = text:gsub("0+$", ""):gsub("%.$", "") end
  if text == "-0" or text == "" then return "0" end
  return text
end

--- The amount as a string with two decimals, for a payload.
---@param amount mlhost.Decimal
---@return string
function _M.cents(amount) return money.format(amount, 2) end

return _M
