-- attack: table.unpack of 10^8 values
-- expect: too many results
local c = mlhost.connector { name = "unpack_huge" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return select('#', table.unpack({}, 1, 1e8))
end)
return c
