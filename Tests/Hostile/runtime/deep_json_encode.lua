-- attack: json.encode of a table 200 levels deep
-- expect: nested more than
local c = mlhost.connector { name = "deep_json_encode" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local t = {}
  for _ = 1, 200 do t = { t } end
  return mlhost.json.encode(t)
end)
return c
