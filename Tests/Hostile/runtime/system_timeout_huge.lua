-- attack: http.system{timeout = 1e16}
-- expect: `timeout` must be
local c = mlhost.connector { name = "system_timeout_huge" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.system { name = 'x', timeout = 1e16 }
end)
return c
