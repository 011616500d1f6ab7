-- attack: a __gc finalizer that allocates while the memory limit is lifted inside a native
-- expect: __gc metamethods are not allowed
local c = mlhost.connector { name = "gc_finalizer_alloc" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local keep = {}
  setmetatable({}, { __gc = function() for i = 1, 1e9 do keep[i] = ('x'):rep(1e6) end end })
  collectgarbage()
end)
return c
