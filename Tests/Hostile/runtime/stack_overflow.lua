-- attack: unbounded recursion
-- expect: memory limit
local c = mlhost.connector { name = "stack_overflow" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local function f() return 1 + f() end
  return f()
end)
return c
