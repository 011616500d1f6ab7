import Foundation
import HTTPTypes
import Hummingbird
import MLHostCore

extension WooCommerceSimulator {
  /// `POST /products` as WooCommerce's REST controller takes it: `regular_price` a string, `status` one of a post's
  /// statuses, and a SKU no other product has (`product_invalid_sku`, 400), whatever the case.
  func createProduct(_ body: Data) -> Response {
    guard let fields = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
      return Self.wpError("rest_invalid_json", "Invalid JSON body passed.", status: .badRequest)
    }
    var invalid: [String] = []
    if let v = fields["name"], !(v is String) { invalid.append("name") }
    if let v = fields["sku"], !(v is String) { invalid.append("sku") }
    // WordPress checks the schema type: a JSON number is not a string (prices are strings in WooCommerce).
    let priceText = fields["regular_price"].map { $0 as? String }
    if case .some(.none) = priceText { invalid.append("regular_price") }
    let status = fields["status"] as? String ?? "publish"
    if !["draft", "pending", "private", "publish", "future"].contains(status) { invalid.append("status") }
    guard invalid.isEmpty else {
      return SimJSON.response(
        [
          "code": "rest_invalid_param", "message": "Invalid parameter(s): \(invalid.joined(separator: ", "))",
          "data": ["status": 400, "params": Dictionary(uniqueKeysWithValues: invalid.map { ($0, "invalid") })],
        ],
        status: .badRequest)
    }
    let price: ExactDecimal
    switch priceText ?? "" {
    case .some(let text) where !text.isEmpty:
      guard let p = ExactDecimal(text) else {
        return Self.wpError("rest_invalid_param", "Invalid parameter(s): regular_price", status: .badRequest)
      }
      price = p
    default: price = ExactDecimal(0)
    }
    let sku = (fields["sku"] as? String ?? "").trimmingCharacters(in: .whitespaces)
    let created: [String: Any]? = lock.withLock {
      if !sku.isEmpty, products.values.contains(where: { $0.sku.lowercased() == sku.lowercased() }) { return nil }
      nextID += 1
      products[nextID] = SandboxSeed.Product(
        sku: sku, name: fields["name"] as? String ?? "Product", price: price, productClass: "GOODS",
        taxRate: ExactDecimal("0.19")!, taxTitle: "MwSt 19%", x3Item: nil)
      productStatus[nextID] = status
      return productJSON(nextID, products[nextID]!)
    }
    guard let created else {
      count("duplicate_skus")
      return Self.wpError("product_invalid_sku", "Invalid or duplicated SKU.", status: .badRequest)
    }
    count("products_created")
    fire("product.created", created)
    return SimJSON.response(created, status: .created)
  }
}
