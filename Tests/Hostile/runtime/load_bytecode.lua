-- attack: load of a binary chunk
-- expect: attempt to load a binary chunk
local c = mlhost.connector { name = "load_bytecode" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local f, err = load('\27Lua')
  error(err)
end)
return c
