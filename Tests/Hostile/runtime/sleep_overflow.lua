-- attack: mlhost.sleep(2e10)
-- expect: bad argument #1 to 'sleep'
local c = mlhost.connector { name = "sleep_overflow" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  mlhost.sleep(2e10)
end)
return c
