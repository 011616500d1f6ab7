-- attack: a method that smuggles a second request line
-- expect: is not an HTTP method token
local c = mlhost.connector { name = "method_injection" }
c:every("1h", "attack", function()
  return mlhost.http.request { url = "http://127.0.0.1:9/", method = "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET" }
end)
return c
