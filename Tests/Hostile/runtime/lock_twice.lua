-- attack: mlhost.lock of a key the coroutine already holds
-- expect: already holds
local c = mlhost.connector { name = "lock_twice" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  mlhost.lock('k')
  mlhost.lock('k')
end)
return c
