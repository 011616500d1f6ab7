-- attack: time.format(math.huge)
-- expect: not a time between
local c = mlhost.connector { name = "time_format_inf" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.time.format(math.huge)
end)
return c
