-- attack: CR/LF in a header name
-- expect: bad argument #1 to 'request'
local c = mlhost.connector { name = "header_injection_name" }
c:every("1h", "attack", function()
  return mlhost.http.request { url = "http://127.0.0.1:9/", headers = { ["X-A\r\nX-Evil"] = "1" } }
end)
return c
