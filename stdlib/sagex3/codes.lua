--- How a customer created in X3 gets its code (BPCNUM, the customer's key): X3 does not number customers (the API
--- facts' only diagnosis of a customer create is "Customer code mandatory"), so the connector makes the code from
--- a prefix and the storefront's own id of the customer (or, for a guest, of the order that brought them). The
--- same customer always gets the same code, so a create repeated after a failure cannot make a second one.
local tostring, type = tostring, type

local _M = {}

--- The settings record `customer_codes` of a connector, with its defaults.
---@param prefix string default prefix of a registered customer's code
---@param guest_prefix string default prefix of a guest's code
---@return table
function _M.schema(prefix, guest_prefix)
  return { type = "record", default = {}, fields = {
    prefix = { type = "string", default = prefix,
      description = "X3 customer code (BPCNUM) of a created customer = prefix + the store's customer id" },
    guest_prefix = { type = "string", default = guest_prefix,
      description = "code of a customer created from a guest order (no store account) = guest_prefix + the order's "
        .. "id" },
    max_length = { type = "integer", default = 15,
      description = "the longest code this X3 folder takes (the length of its BPCNUM data type)" },
  } }
end

--- The code of a new customer: `settings.prefix` + `customer_id` when the store knows the customer (an id other
--- than 0), else `settings.guest_prefix` + `order_id`. Answers nil and why when there is neither or the code is not
--- an X3 code (letters, digits, `-`, `_`) of at most `settings.max_length` characters.
---@param settings {prefix: string, guest_prefix: string, max_length: integer}
---@param customer_id string|integer|nil
---@param order_id string|integer|nil
---@return string? code
---@return string? problem
function _M.customer(settings, customer_id, order_id)
  local id, prefix = tostring(customer_id or ""), settings.prefix
  if type(customer_id) ~= "string" and type(customer_id) ~= "number" or id == "" or id == "0" then
    id, prefix = tostring(order_id or ""), settings.guest_prefix
    if type(order_id) ~= "string" and type(order_id) ~= "number" or id == "" then
      return nil, "no store customer id or order id to make the X3 customer code of"
    end
  end
  local code = prefix .. id
  if not code:match("^[%w%-_]+$") then return nil, "X3 customer code '" .. code .. "' is not an X3 code" end
  if #code > settings.max_length then
    return nil, "X3 customer code '" .. code .. "' is longer than " .. settings.max_length
      .. " characters (customer_codes.max_length); choose a shorter customer_codes prefix"
  end
  return code
end

return _M
