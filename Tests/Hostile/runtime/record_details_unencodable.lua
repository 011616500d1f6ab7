-- attack: a handler whose details cannot be encoded, then the same record again (it used to spin for ever)
-- expect: ok
local c = mlhost.connector { name = "record_details_unencodable" }
c:handler("h.rec", function(rec) return rec:created("x", "X1", { f = function() end }) end)
c:every("1h", "attack", function(job)
  job:record("h.rec", 1, {})
  job:record("h.rec", 1, {})
  return "ok"
end)
return c
