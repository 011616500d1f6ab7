-- attack: a top level that never ends
-- expect: budget
while true do end
