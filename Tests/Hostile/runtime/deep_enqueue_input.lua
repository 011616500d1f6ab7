-- attack: job:enqueue with an input 200 levels deep
-- expect: nested more than
local c = mlhost.connector { name = "deep_enqueue_input" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local t = {}
  for _ = 1, 200 do t = { t } end
  job:enqueue('attack', t)
end)
return c
