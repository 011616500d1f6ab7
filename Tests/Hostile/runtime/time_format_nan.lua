-- attack: time.format(0/0)
-- expect: not a time between
local c = mlhost.connector { name = "time_format_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.time.format(0/0)
end)
return c
