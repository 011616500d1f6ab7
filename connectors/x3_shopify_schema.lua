--- Settings of the Sage X3 ↔ Shopify connector. Validated by the host before the script runs; a CSV path may
--- stand for any mapping table.
local code = { type = "string" }

local shopify = {
  shop_url = { type = "url", required = true, description = "https://{shop}.myshopify.com" },
  api_version = { type = "string", default = "2025-01" },
  credential = { type = "credential", required = true,
    description = "Admin API access: a shopify_token, or oauth2_client_credentials with token_header" },
  webhook_credential = { type = "credential", default = "shopify_webhooks",
    description = "the app's client secret, which signs webhooks" },
  page_size = { type = "integer", default = 50, description = "orders per GraphQL page (≤ 250)" },
  line_items = { type = "integer", default = 15, description = "lines fetched per order" },
  timeout = { type = "duration", default = "30s" },
  max_concurrent = { type = "integer", default = 16 },
  bucket_size = { type = "number", default = 2000, description = "the plan's cost bucket (learnt from answers)" },
  restore_rate = { type = "number", default = 100 },
}

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
  properties = { type = "map", values = code, description = "GraphQL: property per X3 column, when yours differ" },
}

return {
  shopify = { type = "record", required = true, fields = shopify },
  x3 = { type = "record", required = true, fields = x3 },
  poll_orders = { type = "duration", default = "1m", description = "how often Shopify is asked for changed orders" },
  poll_stock = { type = "duration", default = "5m", description = "how often X3 stock is pushed to Shopify" },
  concurrency = { type = "integer", default = 50, description = "orders (or stock rows) processed at once" },
  orders_since = { type = "string", description = "first run: only orders changed since (ISO 8601)" },
  site = { type = "string", required = true, description = "X3 sales site (SALFCY) of the invoices" },
  invoice_type = { type = "string", default = "INV", description = "X3 invoice type (SIVTYP)" },
  items = { type = "map", values = code, description = "Shopify SKU → X3 item (ITMREF); unmapped SKUs are used as is" },
  sales_accounts = { type = "map", values = code, required = true,
    description = "X3 product class (TCLCOD) → GL sales account" },
  tax_accounts = { type = "map", values = code, required = true,
    description = "tax rate in percent (\"19\") → GL tax account" },
  cost_centres = { type = "map", values = code, required = true, description = "X3 site → cost centre" },
  locations = { type = "map", values = code, required = true, description = "X3 stock site → Shopify location name" },
  statuses = { type = "map", values = code, description = "order state → X3 invoice status value" },
}
