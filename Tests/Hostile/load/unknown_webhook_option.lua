-- attack: a misspelt on_webhook option (it used to be ignored silently)
-- expect: unknown option 'secrte'
local c = mlhost.connector { name = "x" }
c:on_webhook("shopify", "orders/create", function() end, { secrte = "s" })
return c
