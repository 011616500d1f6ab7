-- attack: an endless sort comparator
-- expect: budget
local c = mlhost.connector { name = "sort_comparator_loop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  table.sort({ 3, 2, 1 }, function() while true do end end)
end)
return c
