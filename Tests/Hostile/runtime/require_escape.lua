-- attack: require of a path outside the connector's folder
-- expect: is not a dotted name
local c = mlhost.connector { name = "require_escape" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  require('../../etc/passwd')
end)
return c
