-- attack: http.system{retries = 1e300}
-- expect: `retries` must be
local c = mlhost.connector { name = "system_retries_huge" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.system { name = 'x', retries = 1e300 }
end)
return c
