-- attack: a stored secret embedded in a body sent to a URL the script names (an echo server would hand it back)
-- expect: `secret_json` needs a `system` with a credential
local c = mlhost.connector { name = "secret_json_without_system" }
c:every("1h", "attack", function()
  return mlhost.http.request {
    url = "http://127.0.0.1:9/echo", method = "POST", json = { topic = "order.created" },
    secret_json = { key = "secret", credential = "x3" },
  }
end)
return c
