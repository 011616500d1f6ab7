import Foundation
import Logging
import MLHostSandbox
import MLHostTesting
import Testing

/// `stdlib/woocommerce`'s reading of an order against the API facts' own example (§2.3), verbatim: shipping lines
/// with `"taxes":[]`, `sku: null` of a deleted product, refunds of either sign, fee lines.
@Suite(.serialized) struct WooCommerceOrderTests {
  static let quiet = Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() }

  /// The order of api-facts.md §2.3, as the facts print it.
  static let factsOrder = #"""
    {"id":727,"parent_id":0,"number":"727","order_key":"wc_order_58d2d042d1d","created_via":"rest-api","version":"9.5.1",
     "status":"processing","currency":"EUR","date_created":"2025-01-10T10:15:00","date_created_gmt":"2025-01-10T09:15:00",
     "date_modified":"2025-01-12T15:02:11","date_modified_gmt":"2025-01-12T14:02:11",
     "discount_total":"0.00","discount_tax":"0.00","shipping_total":"5.00","shipping_tax":"0.95","cart_tax":"19.00",
     "total":"124.95","total_tax":"19.95","prices_include_tax":false,"customer_id":12,"customer_note":"",
     "billing":{"first_name":"Jane","last_name":"Doe","company":"","address_1":"Hauptstr. 1","address_2":"","city":"Berlin",
       "state":"","postcode":"10115","country":"DE","email":"jane@example.com","phone":"+49301234"},
     "shipping":{"first_name":"Jane","last_name":"Doe","company":"","address_1":"Hauptstr. 1","address_2":"","city":"Berlin",
       "state":"","postcode":"10115","country":"DE","phone":""},
     "payment_method":"stripe","payment_method_title":"Credit card","transaction_id":"pi_3Q...","date_paid_gmt":"2025-01-10T09:16:00",
     "date_completed_gmt":null,"meta_data":[],
     "line_items":[{"id":315,"name":"T-Shirt - M","product_id":93,"variation_id":95,"quantity":2,"tax_class":"",
       "subtotal":"100.00","subtotal_tax":"19.00","total":"100.00","total_tax":"19.00",
       "taxes":[{"id":1,"total":"19","subtotal":"19"}],"meta_data":[],"sku":"TSHIRT-001","price":50,"parent_name":"T-Shirt"}],
     "tax_lines":[{"id":318,"rate_code":"DE-MWST-1","rate_id":1,"label":"MwSt","compound":false,"tax_total":"19.00",
       "shipping_tax_total":"0.95","rate_percent":19,"meta_data":[]}],
     "shipping_lines":[{"id":316,"method_title":"Flat rate","method_id":"flat_rate","total":"5.00","total_tax":"0.95","taxes":[]}],
     "fee_lines":[],"coupon_lines":[],"refunds":[]}
    """#

  @Test func theFactsExampleOrderIsReadExactly() async throws {
    let sandbox = try await Sandbox.start(Sandbox.Options(), logger: Self.quiet)
    defer { sandbox.stop() }
    let script = """
      local woo = require "woocommerce"
      local reconcile = require "sync.reconcile"
      local money = mlhost.money
      local c = mlhost.connector { name = "woo_order", settings = {} }
      local TEXT = [==[\(Self.factsOrder)]==]
      local function order(change)
        local raw = assert(mlhost.json.decode(TEXT, { decimals = true }))
        if change then change(raw) end
        return woo.normalize_order(raw, "WC-")
      end
      local function eq(a, b, what) assert(money.cmp(a, money.new(b)) == 0, what .. ": " .. tostring(a)) end

      c:every("1h", "check", function()
        -- Shipping `taxes` is empty: its rate is the tax line's that carries the shipping share.
        local o = order()
        assert(o.problem == nil, "no problem: " .. tostring(o.problem))
        eq(o.shipping[1].tax_rate, "0.19", "shipping rate")
        eq(o.shipping[1].tax, "0.95", "shipping tax")
        eq(o.lines[1].tax_rate, "0.19", "line rate")
        assert(reconcile.order(o), "the example reconciles")
        -- A shipping tax that is not the tax lines' rate of its price: which rate cannot be told.
        o = order(function(raw) raw.shipping_lines[1].total_tax = "1.50" end)
        assert(o.problem and o.problem:find("cannot be told", 1, true), "ambiguous: " .. tostring(o.problem))
        -- Taxed shipping and no tax line with a shipping share.
        o = order(function(raw) raw.tax_lines[1].shipping_tax_total = "0.00" end)
        assert(o.problem and o.problem:find("no tax line has a shipping_tax_total", 1, true), tostring(o.problem))
        -- A deleted product's line: sku null is no SKU.
        o = order(function(raw) raw.line_items[1].sku = mlhost.json.null end)
        assert(o.lines[1].sku == nil and o.lines[1].product_id == "93", "sku null")
        -- Refunds count by their amount, whatever the sign.
        eq(order(function(raw) raw.refunds = { { id = 1, total = "-10.00" } } end).refunded, "10.00", "negative")
        eq(order(function(raw) raw.refunds = { { id = 1, total = "10.00" } } end).refunded, "10.00", "unsigned")
        -- A fee line is a line of its own, marked fee, and the totals still reconcile.
        o = order(function(raw)
          raw.fee_lines = { { id = 9, name = "COD", total = "2.00", total_tax = "0.38",
            taxes = { { id = 1, total = "0.38", subtotal = "0.38" } } } }
          raw.total, raw.total_tax = "127.33", "20.33"
        end)
        assert(#o.lines == 2 and o.lines[2].fee and o.fees == 1, "fee line")
        eq(o.lines[2].tax_rate, "0.19", "fee rate")
        assert(reconcile.order(o), "reconciles with the fee")
        mlhost.log.info("woocommerce order checks passed")
      end)

      return c
      """
    let run = try await runOnce(script, sandbox: sandbox, settings: [:])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stderr.contains("woocommerce order checks passed"), "\(run.stdout)\n\(run.stderr)")
  }
}
