-- attack: a table that grows until memory runs out
-- expect: memory
local c = mlhost.connector { name = "table_grows_forever" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local t = {}
  for i = 1, 1e12 do t[i] = { i, i, i } end
end)
return c
