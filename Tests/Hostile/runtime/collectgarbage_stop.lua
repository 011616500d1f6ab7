-- attack: collectgarbage('stop')
-- expect: not allowed here
local c = mlhost.connector { name = "collectgarbage_stop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  collectgarbage('stop')
end)
return c
