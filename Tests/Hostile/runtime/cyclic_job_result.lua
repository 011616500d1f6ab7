-- attack: a job result that contains itself
-- expect: cannot leave Lua
local c = mlhost.connector { name = "cyclic_job_result" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local t = {}
  t.self = t
  return t
end)
return c
