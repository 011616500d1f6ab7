-- attack: the same inside gsub
-- expect: pattern matching
local c = mlhost.connector { name = "pattern_gsub_exponential" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return (('a'):rep(200)):gsub('.-.-.-.-x', '')
end)
return c
