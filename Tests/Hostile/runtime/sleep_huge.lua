-- attack: mlhost.sleep(1e300)
-- expect: bad argument #1 to 'sleep'
local c = mlhost.connector { name = "sleep_huge" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  mlhost.sleep(1e300)
end)
return c
