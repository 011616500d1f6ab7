-- luacheck configuration for connector scripts, stdlib modules and examples.
std = "lua54"
read_globals = { "mlhost" }
max_line_length = 120
exclude_files = { "docs/lua/*.lua" }
self = false
