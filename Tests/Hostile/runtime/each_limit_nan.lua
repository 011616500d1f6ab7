-- attack: mlhost.each with a NaN limit
-- expect: bad argument #2 to 'each'
local c = mlhost.connector { name = "each_limit_nan" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.each({ 1 }, 0/0, function() end)
end)
return c
