-- attack: money.allocate into 0/0 parts
-- expect: bad argument #2 to 'allocate'
local c = mlhost.connector { name = "money_allocate_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.money.new('100.00'):allocate(0/0)
end)
return c
