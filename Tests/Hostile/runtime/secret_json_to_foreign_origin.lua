-- attack: a system declared on a foreign origin, signing with a stored credential, with a secret embedded in its body
-- expect: refused for http://127.0.0.1:9
local c = mlhost.connector { name = "secret_json_to_foreign_origin" }
c:every("1h", "attack", function()
  local echo = mlhost.http.system { name = "echo", base_url = "http://127.0.0.1:9", credential = "x3", retries = 0 }
  local response, err, details = mlhost.http.request {
    system = echo, path = "/webhooks", method = "POST", json = { topic = "order.created" },
    secret_json = { key = "secret", credential = "x3" },
  }
  if not response then error(tostring(err) .. ": " .. tostring(details and details.message)) end
  return response.status
end)
return c
