import Foundation

/// The WooCommerce store's day beside the Shopify store's, in each live step: a new order by a customer X3 knows,
/// for goods it knows, and one open order moving on (processing → completed, completed → delivered). Orders go out
/// as the store's webhooks; the choices follow from the store's own state, so a run repeats given the seed.
extension SandboxLive {
  func wooCommerceStep() -> [String] {
    let woo = sandbox.woocommerce
    let seed = sandbox.seed
    let known = seed.customers.filter { $0.x3Code != nil }
    let goods = seed.products.filter { $0.x3Item != nil && $0.productClass != "SERV" }
    guard !known.isEmpty, !goods.isEmpty else { return [] }
    let ids = woo.orderIDs
    var lines: [String] = []
    let customer = known[ids.count % known.count]
    let product = goods[ids.count % goods.count]
    if let id = woo.placeOrder(email: customer.email, sku: product.sku, quantity: 1 + ids.count % 2) {
      lines.append("woocommerce: order \(id) placed by \(customer.email) for \(product.sku)")
    }
    for (from, to) in [("completed", "delivered"), ("processing", "completed")] {
      if let id = ids.first(where: { woo.order($0)?.status == from }), woo.changeOrder(id, status: to) {
        lines.append("woocommerce: order \(id) \(from) → \(to)")
        break
      }
    }
    return lines
  }
}
