-- attack: an endless __close
-- expect: budget
local c = mlhost.connector { name = "close_metamethod_loop" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  do
    local x <close> = setmetatable({}, { __close = function() while true do end end })
  end
end)
return c
