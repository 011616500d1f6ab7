-- attack: one string far over the memory limit
-- expect: memory
local c = mlhost.connector { name = "string_rep_huge" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return #('x'):rep(1e8)
end)
return c
