-- attack: a credential sent to a URL the script names (an echo server would hand the secret to the script)
-- expect: refused for http://127.0.0.1:9
local c = mlhost.connector { name = "credential_to_foreign_origin" }
c:every("1h", "attack", function()
  local response, err, details = mlhost.http.request { url = "http://127.0.0.1:9/echo", credential = "x3" }
  if not response then error(tostring(err) .. ": " .. tostring(details and details.message)) end
  return response.status
end)
return c
