-- attack: error() with a 100 MB message
-- expect: more bytes cut
local c = mlhost.connector { name = "huge_error_string" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  error(('x'):rep(3e7))
end)
return c
