-- attack: coroutine.yield at a job's top level
-- expect: coroutine.yield outside
local c = mlhost.connector { name = "bare_coroutine_yield" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  coroutine.yield(1)
end)
return c
