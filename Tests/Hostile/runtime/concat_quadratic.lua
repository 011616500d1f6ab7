-- attack: s = s .. x in a loop: few instructions, much copying
-- expect: budget
local c = mlhost.connector { name = "concat_quadratic" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local s = ''
  for _ = 1, 1e9 do s = s .. ('x'):rep(64) end
end)
return c
