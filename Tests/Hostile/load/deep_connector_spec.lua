-- attack: a connector spec 200 levels deep
-- expect: nested more than
local t = {}
for _ = 1, 200 do t = { t } end
local c = mlhost.connector { name = "x", settings = { f = { type = "string", default = t } } }
return c
