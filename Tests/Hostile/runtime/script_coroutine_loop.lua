-- attack: an endless loop in a coroutine the script created
-- expect: budget
local c = mlhost.connector { name = "script_coroutine_loop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  coroutine.wrap(function() while true do end end)()
end)
return c
