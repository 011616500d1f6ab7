-- attack: an endless __index
-- expect: budget
local c = mlhost.connector { name = "index_metamethod_loop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return setmetatable({}, { __index = function() while true do end end }).x
end)
return c
