-- attack: a job that keeps what it allocates in a global, so the VM stays full after it is stopped
-- expect: memory limit
local c = mlhost.connector { name = "memory_kept_in_globals" }
kept = {} -- luacheck: ignore (the point is a global that outlives the job)
c:every("1h", "attack", function()
  for i = 1, 1e9 do kept[i] = ("x"):rep(1024) .. i end
end)
return c
