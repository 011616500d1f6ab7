-- attack: a secret embedded into a body that is not a JSON object (an array or a string it would be spliced into)
-- expect: `secret_json` needs `json` to be an object
local c = mlhost.connector { name = "secret_json_not_an_object" }
c:every("1h", "attack", function()
  local echo = mlhost.http.system { name = "echo", base_url = "http://127.0.0.1:9", credential = "x3", retries = 0 }
  return mlhost.http.request {
    system = echo, path = "/webhooks", method = "POST", json = mlhost.json.array { "a", "b" },
    secret_json = { key = "secret", credential = "x3" },
  }
end)
return c
