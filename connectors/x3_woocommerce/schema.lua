--- Settings of the Sage X3 ↔ WooCommerce connector. Validated by the host before the script runs; a CSV path may
--- stand for any mapping table.
local code = { type = "string" }
local x3 = require "sagex3.schema"
local codes = require "sagex3.codes"

local woocommerce = {
  url = { type = "url", required = true,
    description = "the store's site: scheme, host, port and WordPress folder (https://shop.example.com:8443/wp)" },
  credential = { type = "credential", required = true,
    description = "a woocommerce consumer key and secret (read_write): Basic over HTTPS, OAuth 1.0a over HTTP" },
  webhook_credential = { type = "credential", default = "woocommerce_webhooks",
    description = "the webhook secret (webhook_secret, bound to the store's origin): signs deliveries, and is sent to "
      .. "the store when a webhook is registered" },
  receiver_url = { type = "url",
    description = "this host's public base URL as the store reaches it (https://sync.example.com): webhooks "
      .. "missing from the store are registered at <receiver_url>/hooks/x3_woocommerce/<topic>; unset, they are "
      .. "only reported" },
  write_back = { type = "boolean", default = true,
    description = "write the X3 invoice number to the order (meta _x3_invoice) through POST /orders/batch" },
  reference_prefix = { type = "string", default = "WC-",
    description = "X3 customer order reference (CUSORDREF) = prefix + order number" },
  per_page = { type = "integer", default = 100, description = "orders per page (1 to 100)" },
  timeout = { type = "duration", default = "30s" },
  max_concurrent = { type = "integer", default = 8, description = "requests in flight to the store" },
  rate = { type = "number", description = "requests per second, when the store's host limits them" },
  ca_bundle = { type = "string", description = "PEM CA bundle for a self-signed store certificate" },
}

local product = { type = "record", fields = {
  item = { type = "string", required = true, description = "X3 item (ITMREF)" },
  account = { type = "string", required = true, description = "GL sales account of the item's lines" },
} }

return {
  woocommerce = { type = "record", required = true, fields = woocommerce },
  x3 = { type = "record", required = true, fields = x3 },
  poll_orders = { type = "duration", default = "30m",
    description = "how often the store is polled for changed orders anyway (the safety net behind the webhooks)" },
  webhook_health = { type = "duration", default = "5m",
    description = "how often the store's webhooks are checked (missing, disabled, paused)" },
  concurrency = { type = "integer", default = 20, description = "orders processed at once" },
  orders_since = { type = "string", description = "first run: only orders changed since (ISO 8601, UTC)" },
  catch_up_margin = { type = "duration", default = "5m",
    description = "a catch-up poll starts this long before the last delivery received" },
  site = { type = "string", required = true, description = "X3 sales site (SALFCY) of the invoices" },
  stock_site = { type = "string", description = "X3 stock site (STOFCY) the goods leave from; default: site" },
  invoice_type = { type = "string", default = "INV", description = "X3 invoice type (SIVTYP)" },
  credit_note_type = { type = "string", default = "CRN",
    description = "X3 invoice type (SIVTYP) of the credit notes for cancelled or refunded invoiced orders" },
  refund_reference_prefix = { type = "string", default = "WCR-",
    description = "a refund's credit note carries this and the WooCommerce refund id in the invoice reference field" },
  invoice_statuses = { type = "array", elements = code, default = { "processing", "completed", "shipped", "delivered" },
    description = "WooCommerce order statuses that invoice (paid); other orders wait" },
  stock_statuses = { type = "array", elements = code, default = { "completed", "shipped", "delivered" },
    description = "statuses at which the goods have left: the first one reached posts the order's stock issue" },
  status_ranks = { type = "map", values = code,
    description = "statuses your store adds (plugins), so invoice_statuses and stock_statuses may name them: status → "
      .. "its place in the order's life (1 pending … 5 delivered)" },
  freight = { type = "record", default = {}, fields = {
    item = { type = "string", default = "FREIGHT", description = "X3 item (ITMREF) of the freight line" },
    account = { type = "string", description = "GL account of the freight line; needed once an order has shipping" },
  } },
  fees = { type = "record", default = {}, fields = {
    item = { type = "string", description = "X3 item (ITMREF) of fee lines (surcharges); unset, an order with fees is "
      .. "rejected" },
    account = { type = "string", description = "GL account of fee lines" },
  } },
  create_customers = { type = "boolean", default = true,
    description = "create a missing X3 customer from the order's billing data instead of rejecting the order" },
  customer_category = { type = "string", description = "X3 customer category (BCGCOD) of created customers" },
  customer_codes = codes.schema("WC", "WG"),
  products = { type = "map", values = product, required = true,
    description = "WooCommerce product id (or SKU) → X3 item and GL sales account; a CSV `product,item,account`" },
  tax_accounts = { type = "map", values = code, required = true,
    description = "tax rate in percent, decimals kept (\"19\", \"8.25\") → GL tax account" },
  tax_levels = { type = "map", values = code, required = true,
    description = "tax rate in percent, decimals kept (\"19\", \"8.25\") → X3 tax level code (VACITM)" },
  cost_centres = { type = "map", values = code, required = true, description = "X3 site → cost centre" },
  align = { type = "record", default = {}, fields = {
    customers = { type = "enum", values = { "none", "woocommerce_to_x3", "x3_to_woocommerce", "both" },
      default = "none",
      description = "which way customers are aligned by email: store customers created in X3, X3 customers in the "
        .. "store" },
    products = { type = "enum", values = { "none", "woocommerce_to_x3", "x3_to_woocommerce", "both" },
      default = "none",
      description = "which way products are aligned by SKU: store products created in X3 as items (code: the "
        .. "`products` mapping's item, else the SKU), X3 items in the store as draft products" },
    product_class = { type = "string",
      description = "X3 product class (TCLCOD) of items created from store products; needed to align toward X3" },
    unit = { type = "string", description = "X3 stock unit (STU) of items created from store products; needed to "
      .. "align toward X3" },
    every = { type = "duration", default = "1h", description = "how often customers and products are aligned" },
  } },
  webhooks = { type = "record", default = {}, fields = {
    topics = { type = "array", elements = code, default = { "order.created", "order.updated" },
      description = "the store webhooks this connector needs" },
    reenable = { type = "boolean", default = true,
      description = "re-enable a webhook the store disabled after failed deliveries (a paused one is the admin's)" },
    reenable_paused = { type = "boolean", default = false, description = "re-enable paused webhooks too" },
  } },
}
