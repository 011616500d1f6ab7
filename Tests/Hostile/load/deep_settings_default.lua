-- attack: a settings default 200 levels deep, read by mlhost check too
-- expect: nested more than
local t = {}
for _ = 1, 200 do t = { t } end
return mlhost.connector { name = "x", settings = { f = { type = "array", default = t } } }
