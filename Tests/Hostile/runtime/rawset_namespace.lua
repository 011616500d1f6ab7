-- attack: rawset(mlhost.json, 'encode', ...)
-- expect: read-only
local c = mlhost.connector { name = "rawset_namespace" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  rawset(mlhost.json, 'encode', function() return 'forged' end)
end)
return c
