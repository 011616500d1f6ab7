import Foundation
import MLHostCore

/// The simulated store's data in WooCommerce's REST v3 shape (API facts §2.3): money as strings, `line_items[].price`
/// a number, `date_*` in site-local time and `date_*_gmt` in UTC, both without a zone suffix, tax lines by rate id.
struct WooOrder: Sendable {
  struct Tax: Sendable {
    var rateID: Int
    var amount: ExactDecimal
  }

  struct Line: Sendable {
    var id: Int
    var productID: Int
    /// nil once the product is deleted: WooCommerce reads the SKU from the product, and sends `null`.
    var sku: String?
    var name: String
    var quantity: Int
    var price: ExactDecimal
    var taxes: [Tax]
    var total: ExactDecimal {
      (try? price.multiplied(by: ExactDecimal(Int64(quantity))).rounded(scale: 2, .halfUp)) ?? price
    }
    var tax: ExactDecimal { WooOrder.sum(taxes.map(\.amount)) }
  }

  /// A fee line (a surcharge a plugin or the merchant adds), taxed like the products.
  struct Fee: Sendable {
    var id: Int
    var name: String
    var amount: ExactDecimal
    var taxes: [Tax]
    var tax: ExactDecimal { WooOrder.sum(taxes.map(\.amount)) }
  }

  /// A refund (`/orders/{id}/refunds`, `WooCommerceRefunds.swift`): order lines given back, in part or whole, and
  /// the shipping.
  struct Refund: Sendable {
    struct Line: Sendable {
      var id: Int
      /// The order line given back (`_refunded_item_id`).
      var lineID: Int
      var quantity: Int
      var net: ExactDecimal
      var taxes: [Tax]
    }

    var id: Int
    var reason: String
    var created: Double
    var lines: [Line] = []
    var shipping: ExactDecimal?
    var shippingTaxes: [Tax] = []
    var total: ExactDecimal {
      WooOrder.sum(
        lines.map(\.net) + lines.flatMap(\.taxes).map(\.amount) + shippingTaxes.map(\.amount)
          + [shipping ?? ExactDecimal(0)])
    }
  }

  var id: Int
  var orderKey: String
  var status: String
  var customerID: Int
  var billing: SandboxSeed.Customer
  var billingEmail: String
  var country: String
  var created: Double
  var modified: Double
  var paid: Double?
  var completed: Double?
  var lines: [Line]
  var shipping: ExactDecimal?
  var shippingTaxes: [Tax]
  var fees: [Fee] = []
  var refunds: [Refund] = []
  var meta: [(key: String, value: String)] = []
  let currency = "EUR"

  static func sum(_ xs: [ExactDecimal]) -> ExactDecimal { xs.reduce(ExactDecimal(0)) { (try? $0.adding($1)) ?? $0 } }
  static func text(_ d: ExactDecimal) -> String { ((try? d.rounded(scale: 2, .halfUp)) ?? d).description }

  var cartTax: ExactDecimal { Self.sum(lines.map(\.tax) + fees.map(\.tax)) }
  var shippingTax: ExactDecimal { Self.sum(shippingTaxes.map(\.amount)) }
  var totalTax: ExactDecimal { Self.sum([cartTax, shippingTax]) }
  var total: ExactDecimal {
    Self.sum(lines.map(\.total) + fees.map(\.amount) + [shipping ?? ExactDecimal(0), totalTax])
  }

  /// The store's tax rates by id: German VAT, and Texas's and Austin's sales taxes (8.25 % together).
  static let rates: [Int: (code: String, label: String, percent: String)] = [
    1: ("DE-MWST-1", "MwSt", "19"), 2: ("DE-MWST-ERM-1", "MwSt ermäßigt", "7"),
    3: ("US-TX-STATE-1", "Texas State Tax", "6.25"), 4: ("US-TX-AUSTIN-2", "Austin City Tax", "2"),
  ]

  /// The taxes on `amount` at the product's VAT (`rate`, a fraction) or, billed in Austin, Texas's and the city's.
  static func taxes(on amount: ExactDecimal, rate: ExactDecimal, us: Bool) -> [Tax] {
    let ids = us ? [3, 4] : [rate == dec("0.07") ? 2 : 1]
    return ids.map { id in
      let fraction =
        (try? ExactDecimal(rates[id]!.percent)!.divided(by: ExactDecimal(100), scale: 6, .halfEven)) ?? ExactDecimal(0)
      return Tax(
        rateID: id, amount: (try? amount.multiplied(by: fraction).rounded(scale: 2, .halfUp)) ?? ExactDecimal(0))
    }
  }

  /// Site-local time (`offset` seconds east of UTC) and UTC, both `YYYY-MM-DDTHH:MM:SS` without a zone.
  static func local(_ t: Double, _ offset: Int) -> String { String(SimTime.iso(t + Double(offset)).dropLast()) }
  static func gmt(_ t: Double) -> String { String(SimTime.iso(t).dropLast()) }

  func address(email: Bool) -> [String: Any] {
    var a: [String: Any] = [
      "first_name": billing.first, "last_name": billing.last, "company": "",
      "address_1": country == "US" ? "500 Congress Ave" : "Hauptstr. 1",
      "address_2": "", "city": country == "US" ? "Austin" : "Berlin", "state": country == "US" ? "TX" : "",
      "postcode": country == "US" ? "78701" : "10115", "country": country, "phone": "",
    ]
    if email { a["email"] = billingEmail }
    return a
  }

  func json(offset: Int) -> [String: Any] {
    let allTaxes = lines.flatMap(\.taxes) + fees.flatMap(\.taxes) + shippingTaxes
    let taxLines = Dictionary(grouping: allTaxes, by: \.rateID).keys.sorted().map { id -> [String: Any] in
      let r = Self.rates[id]!
      let lineTax = Self.sum((lines.flatMap(\.taxes) + fees.flatMap(\.taxes)).filter { $0.rateID == id }.map(\.amount))
      let shipTax = Self.sum(shippingTaxes.filter { $0.rateID == id }.map(\.amount))
      return [
        "id": 300 + id, "rate_code": r.code, "rate_id": id, "label": r.label, "compound": false,
        "tax_total": Self.text(lineTax), "shipping_tax_total": Self.text(shipTax),
        "rate_percent": NSDecimalNumber(string: r.percent), "meta_data": [Any](),
      ]
    }
    func taxList(_ ts: [Tax]) -> [[String: Any]] {
      ts.map { ["id": $0.rateID, "total": Self.text($0.amount), "subtotal": Self.text($0.amount)] }
    }
    let items: [[String: Any]] = lines.map { l in
      [
        "id": l.id, "name": l.name, "product_id": l.productID, "variation_id": 0, "quantity": l.quantity,
        "tax_class": "",
        "subtotal": Self.text(l.total), "subtotal_tax": Self.text(l.tax), "total": Self.text(l.total),
        "total_tax": Self.text(l.tax),
        "taxes": taxList(l.taxes), "meta_data": [Any](), "sku": l.sku ?? NSNull(),
        "price": NSDecimalNumber(string: l.price.description), "parent_name": NSNull(),
      ]
    }
    var shippingLines: [[String: Any]] = []
    if let shipping {
      // As the facts' example has it: the shipping line's own `taxes` is empty, and its rate is only told by the tax
      // lines' `shipping_tax_total`.
      shippingLines.append([
        "id": id * 100 + 99, "method_title": "Flat rate", "method_id": "flat_rate", "total": Self.text(shipping),
        "total_tax": Self.text(shippingTax), "taxes": [Any](),
      ])
    }
    return [
      "id": id, "parent_id": 0, "number": "\(id)", "order_key": orderKey, "created_via": "checkout", "version": "9.5.1",
      "status": status, "currency": currency,
      "date_created": Self.local(created, offset), "date_created_gmt": Self.gmt(created),
      "date_modified": Self.local(modified, offset), "date_modified_gmt": Self.gmt(modified),
      "discount_total": "0.00", "discount_tax": "0.00", "shipping_total": Self.text(shipping ?? ExactDecimal(0)),
      "shipping_tax": Self.text(shippingTax), "cart_tax": Self.text(cartTax), "total": Self.text(total),
      "total_tax": Self.text(totalTax), "prices_include_tax": false, "customer_id": customerID, "customer_note": "",
      "billing": address(email: true), "shipping": address(email: false),
      "payment_method": "stripe", "payment_method_title": "Credit card",
      "transaction_id": paid == nil ? "" : "pi_\(orderKey.suffix(10))",
      "date_paid": paid.map { Self.local($0, offset) } ?? NSNull(), "date_paid_gmt": paid.map(Self.gmt) ?? NSNull(),
      "date_completed": completed.map { Self.local($0, offset) } ?? NSNull(),
      "date_completed_gmt": completed.map(Self.gmt) ?? NSNull(),
      "meta_data": meta.enumerated().map {
        ["id": 9000 + $0.offset, "key": $0.element.key, "value": $0.element.value]
      },
      "line_items": items, "tax_lines": taxLines, "shipping_lines": shippingLines,
      "fee_lines": fees.map { f -> [String: Any] in
        [
          "id": f.id, "name": f.name, "tax_class": "", "tax_status": "taxable", "amount": Self.text(f.amount),
          "total": Self.text(f.amount),
          "total_tax": Self.text(f.tax), "taxes": taxList(f.taxes), "meta_data": [Any](),
        ]
      }, "coupon_lines": [Any](),
      // WooCommerce itself sends a refund's total negative; the facts do not fix its sign, so odd orders send it
      // unsigned and a client must take the amount either way.
      "refunds": refunds.map {
        ["id": $0.id, "reason": $0.reason, "total": (id % 2 == 0 ? "-" : "") + Self.text($0.total)]
      },
    ]
  }
}

/// A store customer (WooCommerce's `/customers` resource).
struct WooCustomer: Sendable {
  var id: Int
  var email: String
  var first: String
  var last: String
  var created: Double
  var modified: Double

  func json(offset: Int) -> [String: Any] {
    let billing: [String: Any] = [
      "first_name": first, "last_name": last, "company": "", "email": email, "country": "DE",
    ]
    return [
      "id": id, "email": email, "first_name": first, "last_name": last, "role": "customer", "username": email,
      "date_created": WooOrder.local(created, offset), "date_created_gmt": WooOrder.gmt(created),
      "date_modified": WooOrder.local(modified, offset), "date_modified_gmt": WooOrder.gmt(modified),
      "billing": billing, "shipping": billing, "is_paying_customer": true, "meta_data": [Any](),
    ]
  }
}

extension WooOrder {
  /// The store's status of a seeded order: paid orders are `processing`, fulfilled ones `completed`, unpaid ones
  /// `pending` (partly paid: `on-hold`), cancelled ones `cancelled`, refunded ones `refunded`.
  static func status(_ o: SandboxSeed.Order) -> String {
    if o.cancelled { return "cancelled" }
    switch o.financialStatus {
    case "PENDING": return "pending"
    case "PARTIALLY_PAID", "AUTHORIZED": return "on-hold"
    case "REFUNDED": return "refunded"
    default: return o.fulfilled ? "completed" : "processing"
    }
  }

  /// A seeded order as the store holds it; `productIDs` by SKU, `customerIDs` by lowercased email.
  init(seed o: SandboxSeed.Order, productIDs: [String: Int], customerIDs: [String: Int]) {
    let us = o.usSalesTax
    let lines = o.lines.enumerated().map { i, l -> Line in
      let total =
        (try? l.product.price.multiplied(by: ExactDecimal(Int64(l.quantity))).rounded(scale: 2, .halfUp))
        ?? l.product.price
      return Line(
        id: o.number * 100 + i, productID: productIDs[l.product.sku] ?? 0, sku: l.product.sku, name: l.product.name,
        quantity: l.quantity, price: l.product.price, taxes: Self.taxes(on: total, rate: l.product.taxRate, us: us))
    }
    let status = Self.status(o)
    // Awkward on purpose: one known customer's billing email is typed in capitals, which the X3 lookup must not mind.
    let email = o.number == 1002 && o.customer.x3Code != nil ? o.customer.email.uppercased() : o.customer.email
    self.init(
      id: o.number, orderKey: "wc_order_" + String(format: "%013x", o.number &* 2_654_435_761), status: status,
      customerID: customerIDs[o.customer.email.lowercased()] ?? 0, billing: o.customer, billingEmail: email,
      country: us ? "US" : "DE", created: o.createdAt.rounded(.down), modified: o.createdAt.rounded(.down),
      paid: ["processing", "completed", "refunded"].contains(status) ? o.createdAt + 60 : nil,
      completed: status == "completed" ? o.createdAt + 120 : nil, lines: lines, shipping: o.shipping,
      shippingTaxes: o.shipping.map { Self.taxes(on: $0, rate: dec("0.19"), us: us) } ?? [])
    if o.financialStatus == "REFUNDED" { refundRest(reason: "Returned", at: modified) }
  }
}
