--- Settings of the invoice_digest example: declared once, validated by the host before the script runs.
return {
  interval = { type = "duration", default = "5s", description = "how often the digest runs" },
  concurrency = { type = "integer", default = 4, description = "orders totalled at once" },
  shipping = { type = "decimal", required = true, description = "shipping charge split across the orders" },
  signing_label = { type = "string", default = "example", description = "HMAC key label (not a secret)" },
}
