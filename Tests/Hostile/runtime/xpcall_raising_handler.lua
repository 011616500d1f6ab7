-- attack: a message handler that raises again, in a loop
-- expect: budget
local c = mlhost.connector { name = "xpcall_raising_handler" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  while true do xpcall(error, function(e) error(e) end) end
end)
return c
