--- Settings of the Sage 300 ↔ Adobe Commerce connector. Validated by the host before the script runs; a CSV path
--- may stand for any mapping table.
local code = { type = "string" }

local adobe = {
  url = { type = "url", required = true, description = "the store's base URL (with /index.php when it needs it)" },
  store_code = { type = "string", default = "all",
    description = "the store code in REST paths: all (every store view, the admin scope), default or a view's code" },
  credential = { type = "credential", required = true,
    description = "oauth1 (an integration: consumer key and secret, access token and secret)" },
  version = { type = "string", default = "2.4.6",
    description = "the store's Magento version (before 2.4.0 a page past the end repeats the last page)" },
  webhook_credential = { type = "string",
    description = "not used here: this connector polls on its schedule (kept so one [adobe] section fits all)" },
  page_size = { type = "integer", default = 100, description = "searchCriteria pageSize (≤ 300 with input limits on)" },
  timeout = { type = "duration", default = "60s" },
  max_concurrent = { type = "integer", default = 4 },
}

local sage300 = {
  url = { type = "url", required = true, description = "scheme and host of the Sage 300 Web API server (IIS)" },
  path = { type = "string", default = "/Sage300WebApi", description = "the Web API application's path" },
  version = { type = "string", default = "v1.0" },
  user = { type = "string", required = true,
    description = "the Sage 300 user ID the credential signs as: upper-case, at most 8 characters, not ADMIN" },
  allow_admin = { type = "boolean", default = false,
    description = "the site set AllowWebApiAccessForAdmin=true, so ADMIN may sign" },
  credential = { type = "credential", required = true,
    description = "basic: the Sage 300 user (upper-case) and password" },
  timeout = { type = "duration", default = "120s",
    description = "per request; IIS allows 110 s and the first request after an idle app pool is slow" },
  max_concurrent = { type = "integer", default = 2, description = "requests in flight (IIS: TooManyRequests above)" },
  retries = { type = "integer", default = 4, description = "extra attempts for a retryable failure" },
  page_size = { type = "integer", default = 100, description = "the Web API's PageSize (web.config)" },
}

local account_line = { type = "record", default = {}, fields = {
  account = { type = "string", description = "GL account of the line" },
  distribution_code = { type = "string", description = "AR distribution code of the line (instead of an account)" },
} }

return {
  adobe = { type = "record", required = true, fields = adobe },
  sage300 = { type = "record", required = true, fields = sage300 },
  schedule = { type = "string", default = "0 2 * * *",
    description = "cron expression of the sync (daily at 02:00; weekly: \"0 2 * * 1\")" },
  time_zone = { type = "string", default = "UTC",
    description = "time zone of the schedule and of document dates (Europe/Berlin)" },
  orders_since = { type = "string", description = "first run: only orders and invoices changed since (ISO 8601)" },
  customers_since = { type = "string", description = "first run: only Adobe customers changed since (ISO 8601)" },
  concurrency = { type = "integer", default = 2, description = "orders processed at once" },
  eligible_states = { type = "array", elements = code, default = { "processing", "complete" },
    description = "Adobe order states that become AR invoices; other orders wait (canceled ones are skipped)" },
  companies = { type = "map", values = code, required = true,
    description = "Adobe store view code → Sage 300 company; orders of other views are not synced" },
  store_views = { type = "map", values = code,
    description = "Adobe store_id → store view code as the store has them; unset: asked from /V1/store/storeViews" },
  document_prefixes = { type = "map", values = code,
    description = "store view code → prefix of DocumentNumber (when views share increment ids)" },
  batch_size = { type = "integer", default = 200, description = "the most invoices in one AR invoice batch" },
  batch_prefix = { type = "string", default = "MLHOST",
    description = "start of the description of this connector's batches (found again after a crash)" },
  revenue_accounts = { type = "map", values = code,
    description = "SKU, COMPANY/SKU or * (any SKU) → GL revenue account; a CSV path" },
  distribution_codes = { type = "map", values = code,
    description = "SKU, COMPANY/SKU or * → AR distribution code (taken before revenue_accounts); a CSV path" },
  freight = account_line,
  tax = account_line,
  customers = { type = "map", values = code,
    description = "Adobe email or customer id → existing Sage 300 customer number (left as Sage 300 has it)" },
  customer_prefix = { type = "string", default = "WEB",
    description = "new customers are numbered prefix + Adobe customer id (guests: prefix + G + an email digest)" },
  customer_defaults = { type = "map", values = code,
    default = { GroupCode = "WEB", AccountSet = "USA", Terms = "N30", TaxGroup = "USTAX" },
    description = "ARCustomers fields of new customers (GroupCode, AccountSet, Terms, TaxGroup, CurrencyCode…)" },
  update_customers = { type = "boolean", default = true,
    description = "update name and address of customers this connector numbered when they change in Adobe" },
}
