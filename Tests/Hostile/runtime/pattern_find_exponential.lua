-- attack: backtracking pattern, exponential in the subject's length
-- expect: pattern matching
local c = mlhost.connector { name = "pattern_find_exponential" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return ('a'):rep(200):find('.-.-.-.-x')
end)
return c
