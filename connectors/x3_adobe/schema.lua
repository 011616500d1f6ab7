--- Settings of the Sage X3 ↔ Adobe Commerce connector. Validated by the host before the script runs; a CSV path may
--- stand for any mapping table.
local code = { type = "string" }

local adobe = {
  url = { type = "url", required = true, description = "the store's base URL (with /index.php if it needs it)" },
  store_code = { type = "string", default = "default",
    description = "store code in the URL (/rest/<store_code>/V1): default, all, or a store view's code" },
  version = { type = "string", default = "2.4.6",
    description = "Magento version: below 2.4.4 signatures must be HMAC-SHA1 (the credential's signature_method);"
      .. " below 2.4.0 a page past the end repeats the last page" },
  credential = { type = "credential", required = true,
    description = "oauth1 (integration), adobe_admin (admin login, 4 h tokens) or bearer (integration token)" },
  webhook_credential = { type = "credential", default = "adobe_webhooks",
    description = "adobe_webhook_key (the Webhooks module's public key) or webhook_secret (HMAC-SHA256)" },
  io_credential = { type = "credential",
    description = "adobe_io_events (two public keys and the client id), to take Adobe I/O Events deliveries too" },
  page_size = { type = "integer", default = 100, description = "orders per searchCriteria page (≤ 300)" },
  timeout = { type = "duration", default = "30s" },
  max_concurrent = { type = "integer", default = 8 },
  rate = { type = "number", description = "requests per second, when Fastly or the host needs a limit" },
}

-- The shared X3 connection schema, REST only: purchase orders and supplier invoices are not mapped over GraphQL.
local x3 = {}
for k, v in pairs(require "sagex3.schema") do x3[k] = v end
x3.api = { type = "enum", values = { "rest" }, default = "rest",
  description = "REST api1 only (purchasing is not mapped over X3's GraphQL API)" }
x3.max_concurrent = { type = "integer", default = 8, description = "requests in flight to X3 (Syracuse sessions)" }
x3.nodes, x3.properties, x3.invoice_status_updates = nil, nil, nil

return {
  adobe = { type = "record", required = true, fields = adobe },
  x3 = { type = "record", required = true, fields = x3 },
  poll_orders = { type = "duration", default = "5m",
    description = "catch-up poll of changed orders (webhooks bring them at once)" },
  poll_deliveries = { type = "duration", default = "1h",
    description = "how often X3 deliveries are polled for Adobe shipments (X3 has no webhooks)" },
  poll_customers = { type = "duration", default = "1h", description = "how often customers are aligned" },
  concurrency = { type = "integer", default = 8, description = "records processed at once" },
  orders_since = { type = "string", description = "first run: only orders changed since (ISO 8601)" },
  deliveries_since = { type = "string", description = "first run: only X3 deliveries changed since (ISO 8601)" },
  site = { type = "string", required = true, description = "X3 site (FCY) of the supplier invoices" },
  invoice_type = { type = "string", default = "INV", description = "X3 supplier invoice type (PIVTYP)" },
  order_statuses = { type = "array", elements = code, default = { "processing", "complete" },
    description = "Adobe order statuses that become supplier invoices; other orders wait" },
  po_reference = { type = "enum", values = { "po_number", "increment_id" }, default = "po_number",
    description = "what of the order names its purchase order: the PO number paid with, or the order number" },
  po_field = { type = "string", default = "POHNUM",
    description = "the X3 purchase order property the reference is looked up by" },
  check_po_prices = { type = "boolean", default = true,
    description = "refuse an order whose unit price differs from its PO line's (a store view's price must match)" },
  freight = { type = "record", default = {}, fields = {
    item = { type = "string", default = "FREIGHT", description = "X3 item (ITMREF) of the freight line" },
    account = { type = "string", description = "GL account of the freight line; needed once an order has shipping" },
    tax_rate = { type = "string", default = "19", description = "tax rate of shipping, in percent" },
  } },
  items = { type = "map", values = code,
    description = "Adobe SKU → X3 item (ITMREF); unmapped SKUs are used as is" },
  purchase_accounts = { type = "map", values = code, required = true,
    description = "X3 product class (TCLCOD) → GL purchase account" },
  tax_accounts = { type = "map", values = code, required = true,
    description = "tax rate in percent, decimals kept (\"19\", \"5.5\") → GL account of the deductible tax" },
  tax_levels = { type = "map", values = code, required = true,
    description = "tax rate in percent, decimals kept (\"19\", \"5.5\") → X3 tax level code (VACITM)" },
  carriers = { type = "map", values = code,
    description = "X3 carrier (BPTNUM) → Adobe carrier_code (ups, dhl, fedex, usps; others: custom)" },
  customers = { type = "enum", values = { "none", "adobe_to_x3", "both" }, default = "adobe_to_x3",
    description = "customer alignment: Adobe customers missing in X3 are created there; both: and the way back" },
  products = { type = "enum", values = { "none", "x3_to_adobe", "both" }, default = "none",
    description = "product alignment: X3 items (of a class with a purchase account) missing in the store are created"
      .. " there, disabled at price 0 for the merchant to complete; both: and store products X3 lacks are reported" },
  poll_products = { type = "duration", default = "1d", description = "how often products are aligned" },
  customer_codes = require("sagex3.codes").schema("AC", "AG"),
  customer_currency = { type = "string", default = "EUR",
    description = "currency (CUR) of customers created in X3 from the store" },
  customer_category = { type = "string", default = "WEB",
    description = "X3 customer category (BCGCOD) of created customers" },
  website_id = { type = "integer", default = 1, description = "Adobe website customers are created on" },
}
