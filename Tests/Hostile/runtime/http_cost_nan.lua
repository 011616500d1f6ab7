-- attack: http.request{cost = 0/0}
-- expect: `cost` must be
local c = mlhost.connector { name = "http_cost_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.request { url = 'http://127.0.0.1:9/', cost = 0/0 }
end)
return c
