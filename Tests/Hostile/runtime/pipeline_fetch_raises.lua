-- attack: a page fetch that raises inside paging.pipeline (it used to hang the pull for ever)
-- expect: page fetch failed
local c = mlhost.connector { name = "pipeline_fetch_raises" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local paging = require 'sync.paging'
  local n = 0
  paging.pipeline(function() n = n + 1; if n > 1 then error('page fetch failed') end return { 1, 2 } end, 4, function() end, function() end)
end)
return c
