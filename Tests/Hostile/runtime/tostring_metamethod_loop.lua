-- attack: an endless __tostring
-- expect: budget
local c = mlhost.connector { name = "tostring_metamethod_loop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return tostring(setmetatable({}, { __tostring = function() while true do end end }))
end)
return c
