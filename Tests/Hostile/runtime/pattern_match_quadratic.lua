-- attack: an unanchored lazy pattern over a large subject
-- expect: pattern matching
local c = mlhost.connector { name = "pattern_match_quadratic" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return ('a'):rep(1e6):match('.-b')
end)
return c
