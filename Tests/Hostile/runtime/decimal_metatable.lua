-- attack: replacing the decimal metatable's arithmetic
-- expect: attempt to index a boolean
local c = mlhost.connector { name = "decimal_metatable" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  getmetatable(mlhost.money.new('1')).__add = function() return 0 end
end)
return c
