-- attack: an endless gsub replacement function
-- expect: budget
local c = mlhost.connector { name = "gsub_callback_loop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return ('abc'):gsub('%w', function() while true do end end)
end)
return c
