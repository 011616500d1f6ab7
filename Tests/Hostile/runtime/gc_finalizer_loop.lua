-- attack: a __gc finalizer that never ends (finalizers run where no hook can stop them)
-- expect: __gc metamethods are not allowed
local c = mlhost.connector { name = "gc_finalizer_loop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  setmetatable({}, { __gc = function() while true do end end })
  collectgarbage()
end)
return c
