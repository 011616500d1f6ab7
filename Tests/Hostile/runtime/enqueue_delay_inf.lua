-- attack: job:enqueue{delay = math.huge}
-- expect: `delay` must be
local c = mlhost.connector { name = "enqueue_delay_inf" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  job:enqueue('attack', nil, { delay = math.huge })
end)
return c
