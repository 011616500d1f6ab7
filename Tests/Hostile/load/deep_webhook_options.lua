-- attack: on_webhook options 200 levels deep
-- expect: `name` must be a string, got table
local t = {}
for _ = 1, 200 do t = { t } end
local c = mlhost.connector { name = "x" }
c:on_webhook("shopify", "orders/create", function() end, { secret = "s", name = t })
return c
