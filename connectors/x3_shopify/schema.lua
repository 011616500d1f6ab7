--- Settings of the Sage X3 ↔ Shopify connector. Validated by the host before the script runs; a CSV path may
--- stand for any mapping table.
local code = { type = "string" }
local codes = require "sagex3.codes"

local shopify = {
  shop_url = { type = "url", required = true, description = "https://{shop}.myshopify.com" },
  api_version = { type = "string", default = "2025-01" },
  credential = { type = "credential", required = true,
    description = "Admin API access: a shopify_token, or oauth2_client_credentials with token_header" },
  webhook_credential = { type = "credential", default = "shopify_webhooks",
    description = "the app's client secret, which signs webhooks" },
  page_size = { type = "integer", default = 50,
    description = "the most orders per GraphQL page (≤ 250); fewer when the page would cost over 1000 points" },
  line_items = { type = "integer", default = 15, description = "lines fetched per order" },
  shipping_lines = { type = "integer", default = 5, description = "shipping lines fetched per order" },
  webhook_uri_since = { type = "string", default = "2025-04",
    description = "first API version whose webhook subscriptions take `uri`; earlier ones take `callbackUrl`" },
  timeout = { type = "duration", default = "30s" },
  max_concurrent = { type = "integer", default = 16 },
  bucket_size = { type = "number", default = 2000, description = "the plan's cost bucket (learnt from answers)" },
  restore_rate = { type = "number", default = 100 },
}

local x3 = require "sagex3.schema"

return {
  shopify = { type = "record", required = true, fields = shopify },
  x3 = { type = "record", required = true, fields = x3 },
  poll_orders = { type = "duration", default = "1m", description = "how often Shopify is asked for changed orders" },
  poll_stock = { type = "duration", default = "5m", description = "how often X3 stock is pushed to Shopify" },
  concurrency = { type = "integer", default = 50, description = "orders (or stock rows) processed at once" },
  orders_since = { type = "string", description = "first run: only orders changed since (ISO 8601)" },
  site = { type = "string", required = true, description = "X3 sales site (SALFCY) of the invoices" },
  invoice_type = { type = "string", default = "INV", description = "X3 invoice type (SIVTYP)" },
  credit_note_type = { type = "string", default = "CRN",
    description = "X3 invoice type (SIVTYP) of the credit notes for cancelled or refunded invoiced orders" },
  refund_reference_prefix = { type = "string", default = "R",
    description = "a refund's credit note carries this and the Shopify refund id in the invoice reference field" },
  invoice_statuses = { type = "array", elements = code, default = { "PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED" },
    description = "Shopify financial statuses (displayFinancialStatus) that invoice; other orders wait" },
  freight = { type = "record", default = {}, fields = {
    item = { type = "string", default = "FREIGHT", description = "X3 item (ITMREF) of the freight line" },
    account = { type = "string", description = "GL account of the freight line; needed once an order has shipping" },
  } },
  create_customers = { type = "boolean", default = false,
    description = "create a missing X3 customer from the order's billing data instead of rejecting the order" },
  customer_category = { type = "string", description = "X3 customer category (BCGCOD) of created customers" },
  customer_codes = codes.schema("SH", "SH"),
  items = { type = "map", values = code, description = "Shopify SKU → X3 item (ITMREF); unmapped SKUs are used as is" },
  sales_accounts = { type = "map", values = code, required = true,
    description = "X3 product class (TCLCOD) → GL sales account" },
  tax_accounts = { type = "map", values = code, required = true,
    description = "tax rate in percent, decimals kept (\"19\", \"8.25\") → GL tax account" },
  tax_levels = { type = "map", values = code, required = true,
    description = "tax rate in percent, decimals kept (\"19\", \"8.25\") → X3 tax level code (VACITM)" },
  cost_centres = { type = "map", values = code, required = true, description = "X3 site → cost centre" },
  locations = { type = "map", values = code, required = true, description = "X3 stock site → Shopify location name" },
  statuses = { type = "map", values = code, description = "order state → X3 invoice status value" },
}
