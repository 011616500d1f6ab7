-- attack: http.request{safe = "yes"}: a string where a flag is expected must not read as false (or true)
-- expect: `safe` must be true or false, got string
local c = mlhost.connector { name = "http_safe_not_boolean" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.http.request { url = 'http://127.0.0.1:9/', method = 'POST', safe = 'yes' }
end)
return c
