import Foundation
import MLHostCore
import MLHostLua
import MLHostSandbox

/// The steps of WooCommerce cases (`woo_*`), and the store's webhooks wired to the host in this process.
extension ConnectorCase {
  static let wooCommerceActions: [String: Set<String>] = [
    "woo_webhook": ["topic", "order"], "woo_webhooks_at_once": ["topic", "orders"],
    "woo_change_order": ["order", "status"], "woo_set_webhook": ["topic", "status"],
    "woo_receiver_down": ["deliveries"],
    "woo_remove_webhooks": [], "woo_ping": ["topic"], "woo_forged": ["topic", "order"], "woo_delete_product": ["sku"],
    "woo_block_route": ["route"], "woo_add_fee": ["order", "name", "amount"],
    "woo_refund": ["order", "lines", "shipping"],
  ]
}

extension World {
  /// The base of the receiver's URL as the store's webhooks hold it; deliveries to it reach the ingress directly.
  static let receiverBase = "http://receiver.mlhost.test"

  /// Registers the store webhooks the connector declares (as a merchant's admin would hold them) and routes the
  /// store's deliveries — pings included — to this host's ingress.
  func connectWooCommerce() {
    let ingress = self.ingress
    let prefix = Self.receiverBase + "/hooks/"
    sandbox.woocommerce.transport = { url, headers, body in
      guard url.hasPrefix(prefix) else { return nil }
      let parts = url.dropFirst(prefix.count).split(separator: "/").map(String.init)
      guard parts.count == 2 else { return 404 }
      let lower = Dictionary(headers.map { ($0.0.lowercased(), $0.1) }) { _, last in last }
      return await ingress.receive(connector: parts[0], name: parts[1], headers: lower, body: body).status
    }
    sandbox.subscribeWooCommerceWebhooks(
      base: Self.receiverBase, connector: connector,
      declared: host.routes.subscriptions(connector: connector, system: .woocommerce))
  }

  func performWooCommerce(_ step: ConnectorCase.Step, connector: String) async throws {
    let a = step.arguments
    func text(_ key: String) throws -> String {
      guard let v = a[key].flatMap(CaseValue.text) else { throw CaseValue.Problem("\(key) expected") }
      return v
    }
    func order(_ text: String) throws -> Int {
      guard let n = Int(text.drop { $0 == "#" }), sandbox.woocommerce.order(n) != nil else {
        throw CaseValue.Problem("the store has no order \(text)")
      }
      return n
    }
    let woo = sandbox.woocommerce
    switch step.action {
    case "woo_webhook":
      try await deliverWoo(try text("topic"), order: try order(try text("order")), connector: connector)
    case "woo_webhooks_at_once":
      let topic = try text("topic")
      let orders = try CaseValue.list(a["orders"] ?? .nil_, "orders").map {
        try order(try CaseValue.string($0, "orders"))
      }
      try await withThrowingTaskGroup(of: Void.self) { group in
        for o in orders { group.addTask { try await deliverWoo(topic, order: o, connector: connector) } }
        try await group.waitForAll()
      }
    case "woo_change_order":
      let status = try text("status")
      guard woo.changeOrder(try order(try text("order")), status: status) else {
        throw CaseValue.Problem("'\(status)' is not an order status")
      }
    case "woo_set_webhook":
      let (topic, status) = (try text("topic"), try text("status"))
      let hooks = woo.webhookList.filter { $0.topic == topic }
      guard !hooks.isEmpty else { throw CaseValue.Problem("the store has no webhook for \(topic)") }
      for h in hooks where !woo.setWebhook(h.id, status: status) {
        throw CaseValue.Problem("'\(status)' is not a webhook status")
      }
    case "woo_receiver_down":
      woo.receiverDown(for: try CaseValue.int(a["deliveries"] ?? .nil_, "deliveries"))
    case "woo_delete_product":
      let sku = try text("sku")
      guard woo.deleteProduct(sku: sku) else { throw CaseValue.Problem("the store sells no SKU \(sku)") }
    case "woo_add_fee":
      guard let amount = ExactDecimal(try text("amount")) else { throw CaseValue.Problem("amount: a decimal expected") }
      guard woo.addFee(try order(try text("order")), name: try text("name"), amount: amount) else {
        throw CaseValue.Problem("the store has no such order")
      }
    case "woo_refund":
      let lines = try CaseValue.list(a["lines"] ?? .nil_, "lines").enumerated().map { i, line in
        let path = "lines[\(i + 1)]"
        let l = try CaseValue.table(line, path, keys: ["sku", "quantity"])
        return (
          sku: try CaseValue.string(l["sku"] ?? .nil_, path + ".sku"),
          quantity: try CaseValue.int(l["quantity"] ?? .integer(1), path + ".quantity")
        )
      }
      let shipping = try a["shipping"].map { try CaseValue.bool($0, "shipping") } ?? false
      guard woo.refundOrder(try order(try text("order")), lines: lines, shipping: shipping) else {
        throw CaseValue.Problem("the order has no such SKU, or less of it left to refund")
      }
    case "woo_block_route":
      woo.blockRoute(try text("route"))
    case "woo_remove_webhooks":
      for h in woo.webhookList { woo.removeWebhook(h.id) }
    case "woo_ping":
      let answer = await ingress.receive(
        connector: connector, name: try text("topic").replacingOccurrences(of: ".", with: "_"),
        headers: ["content-type": "application/x-www-form-urlencoded", "user-agent": woo.userAgentText],
        body: Array("webhook_id=1".utf8))
      guard answer.status == 200 else {
        throw CaseValue.Problem("the ping was answered \(answer.status): \(answer.message)")
      }
    default:  // "woo_forged": a delivery signed with another secret must be refused
      let topic = try text("topic")
      guard let hook = woo.webhookList.first(where: { $0.topic == topic }),
        var delivery = woo.delivery(webhook: hook.id, order: try order(try text("order")))
      else { throw CaseValue.Problem("no webhook for \(topic)") }
      delivery.body.append(contentsOf: Array(" ".utf8))  // the signature no longer covers the body
      let headers = Dictionary(delivery.headers.map { ($0.0.lowercased(), $0.1) }) { _, last in last }
      let answer = await ingress.receive(
        connector: connector, name: topic.replacingOccurrences(of: ".", with: "_"),
        headers: headers, body: delivery.body)
      guard answer.status == 401 else {
        throw CaseValue.Problem("a forged delivery was answered \(answer.status), not 401")
      }
    }
  }

  /// Delivers the store's webhook of `topic` for `order` in its current state, signed as the store signs.
  private func deliverWoo(_ topic: String, order: Int, connector: String) async throws {
    guard let hook = sandbox.woocommerce.webhookList.first(where: { $0.topic == topic }),
      let delivery = sandbox.woocommerce.delivery(webhook: hook.id, order: order)
    else { throw CaseValue.Problem("the store has no webhook for \(topic)") }
    let headers = Dictionary(delivery.headers.map { ($0.0.lowercased(), $0.1) }) { _, last in last }
    let answer = await ingress.receive(
      connector: connector, name: topic.replacingOccurrences(of: ".", with: "_"),
      headers: headers, body: delivery.body)
    guard answer.status == 200 else {
      throw CaseValue.Problem("the webhook was answered \(answer.status): \(answer.message)")
    }
  }
}
