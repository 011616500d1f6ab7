import Foundation
import MLHostCore

/// The simulated store's data, in Shopify's two shapes: GraphQL Admin API nodes (camelCase, money as
/// `{shopMoney: {amount, currencyCode}}`, GIDs) and the REST resources webhooks carry (snake_case, numeric ids).
struct ShopifyOrder: Sendable {
  /// One tax on a line or a shipping line (a US line carries its state's and its city's).
  struct Tax: Sendable {
    var title: String
    var rate: ExactDecimal
    var amount: ExactDecimal
  }

  struct Line: Sendable {
    var id: Int64
    var sku: String
    var name: String
    var quantity: Int
    var price: ExactDecimal
    var taxes: [Tax]
    var inventoryItem: Int64
    var tax: ExactDecimal { ShopifyOrder.sum(taxes.map(\.amount)) }
  }

  struct ShippingLine: Sendable {
    var title: String
    var price: ExactDecimal
    var taxes: [Tax]
    var tax: ExactDecimal { ShopifyOrder.sum(taxes.map(\.amount)) }
  }

  struct Fulfillment: Sendable {
    var id: Int64
    var createdAt: Double
    var lines: [(id: Int64, quantity: Int)]
    var trackingNumber: String
  }

  /// What one refund gave back: quantities of lines (their share of the line's tax) and the shipping, if any.
  struct Refund: Sendable {
    struct Line: Sendable {
      var lineID: Int64
      var sku: String
      var quantity: Int
      var subtotal: ExactDecimal
      var tax: ExactDecimal
    }
    var id: Int64
    var createdAt: Double
    var lines: [Line]
    var shipping: ExactDecimal
    var shippingTax: ExactDecimal
    var total: ExactDecimal { ShopifyOrder.sum(lines.flatMap { [$0.subtotal, $0.tax] } + [shipping, shippingTax]) }
  }

  var id: Int64
  var number: Int
  var customerID: Int64
  var first: String
  var last: String
  var email: String
  var createdAt: Double
  var updatedAt: Double
  var cancelledAt: Double?
  var financialStatus: String
  var lines: [Line]
  var shipping: [ShippingLine] = []
  var billing: SandboxSeed.Customer
  /// Where the billing address is: "US" orders carry Texas's and Austin's sales tax (8.25 % together).
  var countryCode: String
  var fulfillments: [Fulfillment] = []
  var refunds: [Refund] = []
  let currency = "EUR"

  static func sum(_ xs: [ExactDecimal]) -> ExactDecimal { xs.reduce(ExactDecimal(0)) { (try? $0.adding($1)) ?? $0 } }

  var name: String { "#\(number)" }
  var subtotal: ExactDecimal {
    Self.sum(lines.map { (try? $0.price.multiplied(by: ExactDecimal(Int64($0.quantity)))) ?? $0.price })
  }
  var shippingTotal: ExactDecimal { Self.sum(shipping.map(\.price)) }
  var totalTax: ExactDecimal { Self.sum(lines.map(\.tax) + shipping.map(\.tax)) }
  var total: ExactDecimal { Self.sum([subtotal, shippingTotal, totalTax]) }
  var totalRefunded: ExactDecimal { Self.sum(refunds.map(\.total)) }

  /// Refunds `quantities` of lines (by SKU), each with its share of the line's tax, and the shipping when
  /// `shipping`; the order becomes PARTIALLY_REFUNDED, or REFUNDED once all of it is given back. Nil when a SKU
  /// is not on the order or more is refunded than was sold.
  mutating func refund(
    _ quantities: [(sku: String, quantity: Int)], shipping refundShipping: Bool, id: Int64, at: Double
  ) -> Refund? {
    var lines: [Refund.Line] = []
    for (sku, quantity) in quantities {
      guard let line = self.lines.first(where: { $0.sku == sku }), quantity > 0 else { return nil }
      let before = refunds.flatMap(\.lines).filter { $0.lineID == line.id }.reduce(0) { $0 + $1.quantity }
      guard before + quantity <= line.quantity,
        let subtotal = try? line.price.multiplied(by: ExactDecimal(Int64(quantity))),
        let share = try? line.tax.multiplied(by: ExactDecimal(Int64(quantity)))
          .divided(by: ExactDecimal(Int64(line.quantity)), scale: 2, .halfUp)
      else { return nil }
      lines.append(.init(lineID: line.id, sku: sku, quantity: quantity, subtotal: subtotal, tax: share))
    }
    let shipped = refundShipping && !refunds.contains { $0.shipping != ExactDecimal(0) }
    let refund = Refund(
      id: id, createdAt: at, lines: lines, shipping: shipped ? shippingTotal : ExactDecimal(0),
      shippingTax: shipped ? Self.sum(shipping.map(\.tax)) : ExactDecimal(0))
    refunds.append(refund)
    financialStatus = totalRefunded < total ? "PARTIALLY_REFUNDED" : "REFUNDED"
    return refund
  }
  var fulfillmentStatus: String {
    if cancelledAt != nil { return "UNFULFILLED" }
    return fulfillments.isEmpty ? "UNFULFILLED" : "FULFILLED"
  }

  static func money(_ d: ExactDecimal, _ currency: String) -> [String: Any] {
    ["shopMoney": ["amount": d.description, "currencyCode": currency]]
  }

  static func iso(_ t: Double?) -> Any { t.map(SimTime.iso) ?? NSNull() }

  /// Taxes by title, lines and shipping together, as Shopify sums them on the order.
  var taxLines: [Tax] {
    var out: [Tax] = []
    for t in lines.flatMap(\.taxes) + shipping.flatMap(\.taxes) {
      if let i = out.firstIndex(where: { $0.title == t.title }) {
        out[i].amount = (try? out[i].amount.adding(t.amount)) ?? out[i].amount
      } else {
        out.append(t)
      }
    }
    return out
  }

  static func graphQLTaxes(_ taxes: [Tax], _ currency: String) -> [[String: Any]] {
    taxes.map {
      ["title": $0.title, "rate": NSDecimalNumber(string: $0.rate.description), "priceSet": money($0.amount, currency)]
    }
  }

  static func restTaxes(_ taxes: [Tax]) -> [[String: Any]] {
    taxes.map {
      ["title": $0.title, "rate": NSDecimalNumber(string: $0.rate.description), "price": $0.amount.description]
    }
  }

  func graphQLNode(lineLimit: Int, shippingLimit: Int) -> [String: Any] {
    [
      "id": "gid://shopify/Order/\(id)", "legacyResourceId": "\(id)", "name": name, "email": email,
      "createdAt": SimTime.iso(createdAt), "updatedAt": SimTime.iso(updatedAt), "cancelledAt": Self.iso(cancelledAt),
      "cancelReason": cancelledAt == nil ? NSNull() : "CUSTOMER", "displayFinancialStatus": financialStatus,
      "displayFulfillmentStatus": fulfillmentStatus, "currencyCode": currency,
      "customer": ["id": "gid://shopify/Customer/\(customerID)", "firstName": first, "lastName": last, "email": email],
      "totalPriceSet": Self.money(total, currency), "totalTaxSet": Self.money(totalTax, currency),
      "taxLines": Self.graphQLTaxes(taxLines, currency),
      "billingAddress": [
        "firstName": billing.first, "lastName": billing.last, "company": NSNull(), "address1": "1 Main Street",
        "city": countryCode == "US" ? "Austin" : "Berlin", "zip": countryCode == "US" ? "78701" : "10115",
        "countryCodeV2": countryCode,
      ],
      "lineItems": [
        "edges": lines.prefix(lineLimit).map { l in
          [
            "node": [
              "id": "gid://shopify/LineItem/\(l.id)", "sku": l.sku, "name": l.name, "quantity": l.quantity,
              "originalUnitPriceSet": Self.money(l.price, currency), "taxLines": Self.graphQLTaxes(l.taxes, currency),
              "variant": [
                "id": "gid://shopify/ProductVariant/\(l.inventoryItem + 1_000_000)",
                "inventoryItem": ["id": "gid://shopify/InventoryItem/\(l.inventoryItem)"],
              ],
            ] as [String: Any]
          ]
        }
      ],
      "shippingLines": [
        "edges": shipping.prefix(shippingLimit).map { l in
          [
            "node": [
              "title": l.title, "originalPriceSet": Self.money(l.price, currency),
              "taxLines": Self.graphQLTaxes(l.taxes, currency),
            ] as [String: Any]
          ]
        }
      ],
      "totalRefundedSet": Self.money(totalRefunded, currency),
      "refunds": refunds.map { r in
        [
          "id": "gid://shopify/Refund/\(r.id)", "createdAt": SimTime.iso(r.createdAt),
          "totalRefundedSet": Self.money(r.total, currency),
          "refundLineItems": [
            "edges": r.lines.map { l in
              [
                "node": [
                  "quantity": l.quantity, "lineItem": ["id": "gid://shopify/LineItem/\(l.lineID)", "sku": l.sku],
                  "subtotalSet": Self.money(l.subtotal, currency), "totalTaxSet": Self.money(l.tax, currency),
                ] as [String: Any]
              ]
            }
          ],
          "refundShippingLines": [
            "edges": r.shipping == ExactDecimal(0) && r.shippingTax == ExactDecimal(0)
              ? []
              : [
                [
                  "node": [
                    "subtotalAmountSet": Self.money(r.shipping, currency),
                    "taxAmountSet": Self.money(r.shippingTax, currency),
                  ]
                ]
              ]
          ],
        ] as [String: Any]
      },
      "fulfillments": fulfillments.map { f in
        [
          "id": "gid://shopify/Fulfillment/\(f.id)", "status": "SUCCESS", "createdAt": SimTime.iso(f.createdAt),
          "trackingInfo": [
            ["company": "DHL", "number": f.trackingNumber, "url": "https://www.dhl.com/track?n=\(f.trackingNumber)"]
          ],
          "fulfillmentLineItems": [
            "edges": f.lines.map { fl in
              ["node": ["lineItem": ["id": "gid://shopify/LineItem/\(fl.id)"], "quantity": fl.quantity]]
            }
          ],
        ] as [String: Any]
      },
    ]
  }

  /// The REST resource a webhook delivers (`orders/create`, `orders/updated`).
  var restResource: [String: Any] {
    [
      "id": id, "admin_graphql_api_id": "gid://shopify/Order/\(id)", "name": name, "email": email,
      "created_at": SimTime.iso(createdAt), "updated_at": SimTime.iso(updatedAt), "cancelled_at": Self.iso(cancelledAt),
      "financial_status": financialStatus.lowercased(),
      "fulfillment_status": fulfillments.isEmpty ? NSNull() : "fulfilled", "currency": currency,
      "total_price": total.description, "total_tax": totalTax.description,
      "customer": ["id": customerID, "email": email, "first_name": first, "last_name": last],
      "line_items": lines.map { l in
        [
          "id": l.id, "sku": l.sku, "name": l.name, "quantity": l.quantity, "price": l.price.description,
          "tax_lines": Self.restTaxes(l.taxes),
        ] as [String: Any]
      },
      "shipping_lines": shipping.map { l in
        ["title": l.title, "price": l.price.description, "tax_lines": Self.restTaxes(l.taxes)] as [String: Any]
      },
      "billing_address": [
        "first_name": billing.first, "last_name": billing.last, "address1": "1 Main Street",
        "city": countryCode == "US" ? "Austin" : "Berlin", "country_code": countryCode,
      ],
      "refunds": refunds.map { r in
        [
          "id": r.id, "created_at": SimTime.iso(r.createdAt),
          "refund_line_items": r.lines.map { l in
            [
              "line_item_id": l.lineID, "quantity": l.quantity, "subtotal": l.subtotal.description,
              "total_tax": l.tax.description,
            ]
          },
        ] as [String: Any]
      },
      "fulfillments": fulfillments.map { f in
        [
          "id": f.id, "status": "success", "created_at": SimTime.iso(f.createdAt), "tracking_company": "DHL",
          "tracking_number": f.trackingNumber, "line_items": f.lines.map { ["id": $0.id, "quantity": $0.quantity] },
        ] as [String: Any]
      },
    ]
  }
}

struct ShopifyInventoryItem: Sendable {
  var id: Int64
  var sku: String
  /// Available quantity by location id.
  var available: [Int64: Int]
}
