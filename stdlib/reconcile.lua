--- Money reconciliation: the lines of a document plus its tax must equal its total, to the cent, before anything
--- is posted. Amounts are exact decimals (`mlhost.money`), never floats.
local money = require "mlhost.money"
local ipairs = ipairs

local _M = {}

--- Checks a normalised order: Σ(quantity × unit price) + Σ line tax = total, and Σ line tax = total tax.
--- Returns true, or false and a message naming the figures.
---@param order stdlib.Order
---@return boolean ok
---@return string? problem
---@return {net: mlhost.Decimal, tax: mlhost.Decimal}? sums
function _M.order(order)
  local net, tax = money.new("0"), money.new("0")
  for _, line in ipairs(order.lines) do
    net = net + money.round(line.unit_price * line.quantity, 2, "half_up")
    tax = tax + line.tax
  end
  local sums = { net = net, tax = tax }
  if money.cmp(tax, order.total_tax) ~= 0 then
    return false, "line taxes add up to " .. money.format(tax, 2) .. " but the order's tax is "
      .. money.format(order.total_tax, 2), sums
  end
  if money.cmp(net + tax, order.total) ~= 0 then
    return false, "lines " .. money.format(net, 2) .. " + tax " .. money.format(tax, 2) .. " = "
      .. money.format(net + tax, 2) .. " but the order's total is " .. money.format(order.total, 2), sums
  end
  return true, nil, sums
end

--- The amount as a string with two decimals, for a payload.
---@param amount mlhost.Decimal
---@return string
function _M.cents(amount) return money.format(amount, 2) end

return _M
