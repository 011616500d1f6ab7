-- attack: a message handler that loops for ever after the body loops for ever
-- expect: budget
local c = mlhost.connector { name = "xpcall_looping_handler" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  xpcall(function() while true do end end, function() while true do end end)
end)
return c
