-- attack: time.format(math.maxinteger)
-- expect: not a time between
local c = mlhost.connector { name = "time_format_maxinteger" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.time.format(math.maxinteger)
end)
return c
