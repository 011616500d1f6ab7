-- attack: time.format(-1e300)
-- expect: not a time between
local c = mlhost.connector { name = "time_format_negative_huge" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.time.format(-1e300)
end)
return c
