-- attack: pcall around an endless loop, itself in an endless loop
-- expect: budget
local c = mlhost.connector { name = "pcall_swallows_stop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  while true do pcall(function() while true do end end) end
end)
return c
