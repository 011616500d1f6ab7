-- attack: json.ordered with a huge key list, then with a key list that is not strings
-- expect: at most 256 member names
local c = mlhost.connector { name = "json_ordered_abuse" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local keys = {}
  for i = 1, 100000 do keys[i] = "k" .. i end
  local ok = pcall(mlhost.json.ordered, {}, { {}, function() end })
  assert(not ok, "a key list of tables was accepted")
  mlhost.json.ordered({}, keys)
end)
return c
