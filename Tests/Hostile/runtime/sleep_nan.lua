-- attack: mlhost.sleep(0/0)
-- expect: bad argument #1 to 'sleep'
local c = mlhost.connector { name = "sleep_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  mlhost.sleep(0/0)
end)
return c
