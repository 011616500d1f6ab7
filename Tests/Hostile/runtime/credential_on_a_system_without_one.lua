-- attack: a credential named on a request to a system that declares none (it would go unused, the request unsigned)
-- expect: declares no credential, so 'shopify' would not be applied
local c = mlhost.connector { name = "credential_on_a_system_without_one" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  mlhost.http.system { name = 'plain', base_url = 'http://127.0.0.1:9' }
  return mlhost.http.request { system = 'plain', path = '/x', credential = 'shopify' }
end)
return c
