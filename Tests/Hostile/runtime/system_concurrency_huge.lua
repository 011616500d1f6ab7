-- attack: http.system{max_concurrent = 1e300}
-- expect: `max_concurrent` must be
local c = mlhost.connector { name = "system_concurrency_huge" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.system { name = 'x', max_concurrent = 1e300 }
end)
return c
