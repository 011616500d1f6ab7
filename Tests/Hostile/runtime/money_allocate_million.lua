-- attack: money.allocate into 10^6 parts
-- expect: bad argument #2 to 'allocate'
local c = mlhost.connector { name = "money_allocate_million" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.money.new('100.00'):allocate(1000000)
end)
return c
