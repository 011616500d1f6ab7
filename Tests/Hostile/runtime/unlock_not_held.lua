-- attack: mlhost.unlock of a key never locked
-- expect: is not held
local c = mlhost.connector { name = "unlock_not_held" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  mlhost.unlock('never')
end)
return c
