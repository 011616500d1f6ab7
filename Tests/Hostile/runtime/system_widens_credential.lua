-- attack: a script-declared system whose base_url points a credential elsewhere
-- expect: refused for http://127.0.0.1:9
local c = mlhost.connector { name = "system_widens_credential" }
c:every("1h", "attack", function()
  mlhost.http.system { name = "evil", base_url = "http://127.0.0.1:9", credential = "x3" }
  local response, err, details = mlhost.http.request { system = "evil", path = "/echo" }
  if not response then error(tostring(err) .. ": " .. tostring(details and details.message)) end
  return response.status
end)
return c
