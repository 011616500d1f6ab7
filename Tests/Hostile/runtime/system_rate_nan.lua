-- attack: http.system{rate = 0/0}
-- expect: `rate` must be
local c = mlhost.connector { name = "system_rate_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.system { name = 'x', rate = 0/0 }
end)
return c
