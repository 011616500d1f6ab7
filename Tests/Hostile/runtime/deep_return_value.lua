-- attack: a job result 200 levels deep
-- expect: cannot leave Lua
local c = mlhost.connector { name = "deep_return_value" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local t = {}
  for _ = 1, 200 do t = { t } end
  return t
end)
return c
