-- attack: replacing the string metatable
-- expect: attempt to index a boolean
local c = mlhost.connector { name = "string_metatable" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  getmetatable('').__index = {}
end)
return c
