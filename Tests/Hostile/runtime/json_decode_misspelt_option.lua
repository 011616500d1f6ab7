-- attack: json.decode with a misspelt option (decimal for decimals): amounts would silently become floats
-- expect: decode: unknown option 'decimal' (known: decimals)
local c = mlhost.connector { name = "json_decode_misspelt_option" }
c:every("1h", "attack", function(job) -- luacheck: no unused args
  return mlhost.json.decode('{"total": 124.95}', { decimal = true })
end)
return c
