-- attack: http.request{timeout = math.huge}
-- expect: `timeout` must be
local c = mlhost.connector { name = "http_timeout_inf" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.request { url = 'http://127.0.0.1:9/', timeout = math.huge }
end)
return c
