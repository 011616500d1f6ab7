-- attack: the same inside gmatch
-- expect: pattern matching
local c = mlhost.connector { name = "pattern_gmatch_exponential" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  for _ in ('a'):rep(200):gmatch('.-.-.-.-x') do end
end)
return c
