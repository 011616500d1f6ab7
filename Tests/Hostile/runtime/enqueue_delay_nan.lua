-- attack: job:enqueue{delay = 0/0}
-- expect: `delay` must be
local c = mlhost.connector { name = "enqueue_delay_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  job:enqueue('attack', nil, { delay = 0/0 })
end)
return c
