-- attack: json.decode of 100,000 nested arrays
-- expect: nested deeper than
local c = mlhost.connector { name = "deep_json_decode" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local _, err, details = mlhost.json.decode(('['):rep(100000))
  error(err .. ': ' .. tostring(details and details.message))
end)
return c
