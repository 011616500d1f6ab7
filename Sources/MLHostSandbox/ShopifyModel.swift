import Foundation
import MLHostRuntime

/// The simulated store's data, in Shopify's two shapes: GraphQL Admin API nodes (camelCase, money as
/// `{shopMoney: {amount, currencyCode}}`, GIDs) and the REST resources webhooks carry (snake_case, numeric ids).
struct ShopifyOrder: Sendable {
  struct Line: Sendable {
    var id: Int64
    var sku: String
    var name: String
    var quantity: Int
    var price: ExactDecimal
    var taxTitle: String
    var taxRate: ExactDecimal
    var tax: ExactDecimal
    var inventoryItem: Int64
  }

  struct Fulfillment: Sendable {
    var id: Int64
    var createdAt: Double
    var lines: [(id: Int64, quantity: Int)]
    var trackingNumber: String
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
  var fulfillments: [Fulfillment] = []
  let currency = "EUR"

  var name: String { "#\(number)" }
  var subtotal: ExactDecimal { lines.reduce(ExactDecimal(0)) { (try? $0.adding((try? $1.price.multiplied(by: ExactDecimal(Int64($1.quantity)))) ?? $0)) ?? $0 } }
  var totalTax: ExactDecimal { lines.reduce(ExactDecimal(0)) { (try? $0.adding($1.tax)) ?? $0 } }
  var total: ExactDecimal { (try? subtotal.adding(totalTax)) ?? subtotal }
  var fulfillmentStatus: String {
    if cancelledAt != nil { return "UNFULFILLED" }
    return fulfillments.isEmpty ? "UNFULFILLED" : "FULFILLED"
  }

  static func money(_ d: ExactDecimal, _ currency: String) -> [String: Any] {
    ["shopMoney": ["amount": d.description, "currencyCode": currency]]
  }

  static func iso(_ t: Double?) -> Any { t.map(SimTime.iso) ?? NSNull() }

  /// Taxes by title, as Shopify sums them on the order.
  var taxLines: [(title: String, rate: ExactDecimal, amount: ExactDecimal)] {
    var out: [(title: String, rate: ExactDecimal, amount: ExactDecimal)] = []
    for l in lines {
      if let i = out.firstIndex(where: { $0.title == l.taxTitle }) {
        out[i].amount = (try? out[i].amount.adding(l.tax)) ?? out[i].amount
      } else {
        out.append((l.taxTitle, l.taxRate, l.tax))
      }
    }
    return out
  }

  func graphQLNode(lineLimit: Int) -> [String: Any] {
    [
      "id": "gid://shopify/Order/\(id)", "legacyResourceId": "\(id)", "name": name, "email": email,
      "createdAt": SimTime.iso(createdAt), "updatedAt": SimTime.iso(updatedAt), "cancelledAt": Self.iso(cancelledAt),
      "cancelReason": cancelledAt == nil ? NSNull() : "CUSTOMER", "displayFinancialStatus": financialStatus,
      "displayFulfillmentStatus": fulfillmentStatus, "currencyCode": currency,
      "customer": ["id": "gid://shopify/Customer/\(customerID)", "firstName": first, "lastName": last, "email": email],
      "totalPriceSet": Self.money(total, currency), "totalTaxSet": Self.money(totalTax, currency),
      "taxLines": taxLines.map { t in
        ["title": t.title, "rate": NSDecimalNumber(string: t.rate.description), "priceSet": Self.money(t.amount, currency)] as [String: Any]
      },
      "lineItems": ["edges": lines.prefix(lineLimit).map { l in
        ["node": [
          "id": "gid://shopify/LineItem/\(l.id)", "sku": l.sku, "name": l.name, "quantity": l.quantity,
          "originalUnitPriceSet": Self.money(l.price, currency),
          "taxLines": [["title": l.taxTitle, "rate": NSDecimalNumber(string: l.taxRate.description), "priceSet": Self.money(l.tax, currency)]],
          "variant": ["id": "gid://shopify/ProductVariant/\(l.inventoryItem + 1_000_000)", "inventoryItem": ["id": "gid://shopify/InventoryItem/\(l.inventoryItem)"]],
        ] as [String: Any]]
      }],
      "fulfillments": fulfillments.map { f in
        ["id": "gid://shopify/Fulfillment/\(f.id)", "status": "SUCCESS", "createdAt": SimTime.iso(f.createdAt),
         "trackingInfo": [["company": "DHL", "number": f.trackingNumber, "url": "https://www.dhl.com/track?n=\(f.trackingNumber)"]],
         "fulfillmentLineItems": ["edges": f.lines.map { fl in
           ["node": ["lineItem": ["id": "gid://shopify/LineItem/\(fl.id)"], "quantity": fl.quantity]]
         }]] as [String: Any]
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
        ["id": l.id, "sku": l.sku, "name": l.name, "quantity": l.quantity, "price": l.price.description,
         "tax_lines": [["title": l.taxTitle, "rate": NSDecimalNumber(string: l.taxRate.description), "price": l.tax.description]]] as [String: Any]
      },
      "fulfillments": fulfillments.map { f in
        ["id": f.id, "status": "success", "created_at": SimTime.iso(f.createdAt), "tracking_company": "DHL",
         "tracking_number": f.trackingNumber, "line_items": f.lines.map { ["id": $0.id, "quantity": $0.quantity] }] as [String: Any]
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
