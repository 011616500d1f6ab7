-- attack: http.system{cost_bucket = {size = 0/0}}
-- expect: `size` must be a number from 1 to 10000000, got nan
local c = mlhost.connector { name = "system_cost_bucket_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.system { name = 'x', cost_bucket = { size = 0/0 } }
end)
return c
