-- attack: error() with a table 200 levels deep
-- expect: cannot be read
local c = mlhost.connector { name = "deep_error_object" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local t = {}
  for _ = 1, 200 do t = { message = t } end
  error(t)
end)
return c
