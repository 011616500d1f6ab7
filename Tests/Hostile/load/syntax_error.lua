-- attack: a syntax error
-- expect: expected
local c = mlhost.connector { name = "x" 
return c
