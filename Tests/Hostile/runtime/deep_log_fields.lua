-- attack: log fields 200 levels deep
-- expect: ok
local c = mlhost.connector { name = "deep_log_fields" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  local t = {}
  for _ = 1, 200 do t = { t } end
  mlhost.log.info('deep', { f = t })
  return 'ok'
end)
return c
