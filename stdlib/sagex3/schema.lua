--- The settings schema of an X3 connection (`[x3]`), the same for every pairing: where Syracuse is, which API,
--- the credential, the budgets, and the names that vary between X3 versions and installations.
local code = { type = "string" }

local x3 = {
  url = { type = "url", required = true, description = "Syracuse server: scheme, host and port (8124)" },
  endpoint = { type = "string", required = true, description = "the X3 endpoint (folder), e.g. SEED" },
  credential = { type = "credential", required = true,
    description = "basic (Syracuse user) or oauth2_refresh_token (cloud gateway)" },
  api = { type = "enum", values = { "rest", "graphql" }, default = "rest",
    description = "REST api1 (Basic or gateway token) or GraphQL /xtrem/api (connected-app x3_jwt or gateway token)" },
  timeout = { type = "duration", default = "60s" },
  max_concurrent = { type = "integer", default = 48, description = "requests in flight to X3 (Syracuse sessions)" },
  rate = { type = "number", description = "requests per second, when the server needs a limit" },
  page_size = { type = "integer", default = 100 },
  ca_bundle = { type = "string", description = "PEM CA bundle for an on-premise certificate" },
  proxy = { type = "string" },
  classes = { type = "map", values = code, description = "class per role, when yours differ from the defaults" },
  fields = { type = "map", values = code, description = "property per role, when yours differ from the defaults" },
  representations = { type = "map", values = code,
    description = "REST: representation per role, when yours is not the class's name" },
  nodes = { type = "map", values = code, description = "GraphQL: package.node per role, when yours differ" },
  yes = { type = "integer", default = 2, description = "the yes of X3's yes/no local menus (1 = no, 2 = yes)" },
  invoice_status_updates = { type = "boolean", default = false,
    description = "whether this installation lets the invoice's status field be changed after posting" },
  properties = { type = "map", values = code, description = "GraphQL: property per X3 column, when yours differ" },
}

return x3
