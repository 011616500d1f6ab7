import Foundation
import MLHostLua
import MLHostSandbox

/// The case steps and expectations of the Adobe Commerce pairings: webhook deliveries signed as the store signs
/// them (or forged, or signed with another key), X3 purchase orders and deliveries entered while the connector
/// runs, a shipment made by a person in the Admin, a signed request replayed (its nonce used again), and the
/// shipments an order must end with.
extension ConnectorCase {
  static let adobeActions: [String: Set<String>] = [
    "adobe_webhook": ["order", "signature", "status"],
    "adobe_io_event": ["order", "signature", "recipient", "status"],
    "adobe_touch": ["order"],
    "adobe_ship": ["order"],
    "adobe_replay_request": [],
    "x3_add_purchase_order": [],
    "x3_add_delivery": ["order", "item", "quantity", "tracking", "carrier"],
    "x3_add_item": ["item", "name", "class"],
  ]

  public struct ShipmentExpectation: Sendable {
    /// The order's increment id.
    public var order: String
    public var count: Int?
    /// Tracking numbers the order's shipments must carry.
    public var tracks: [String] = []
    /// Quantity shipped per SKU (over the order's parent rows).
    public var shipped: [String: Int] = [:]
  }

  static func adobeShipments(_ v: LuaValue) throws -> [ShipmentExpectation] {
    typealias V = CaseValue
    return try V.list(v, "expect.adobe_shipments").enumerated().map { i, x in
      let path = "expect.adobe_shipments[\(i + 1)]"
      let t = try V.table(x, path, keys: ["order", "count", "tracks", "shipped"])
      var e = ShipmentExpectation(order: try V.string(t["order"] ?? .nil_, path + ".order"))
      e.count = try t["count"].map { try V.int($0, path + ".count") }
      e.tracks = try V.list(t["tracks"] ?? .nil_, path + ".tracks").map { try V.string($0, path + ".tracks") }
      e.shipped = try V.ints(t["shipped"] ?? .nil_, path + ".shipped")
      return e
    }
  }
}

extension World {
  func performAdobe(_ step: ConnectorCase.Step, connector: String) async throws {
    let a = step.arguments
    func text(_ key: String) throws -> String {
      guard let v = a[key].flatMap(CaseValue.text) else { throw CaseValue.Problem("\(key) expected") }
      return v
    }
    let adobe = sandbox.adobe
    switch step.action {
    case "adobe_webhook", "adobe_io_event":
      let order = try text("order")
      let tamper = AdobeCommerceSimulator.Tamper(rawValue: (try? text("signature")) ?? "valid")
      guard let tamper else { throw CaseValue.Problem("signature is valid, forged or other_key") }
      let io = step.action == "adobe_io_event"
      let delivery =
        io
        ? adobe.ioEventDelivery(
          type: "com.adobe.commerce.observer.sales_order_save_after", order: order, tamper: tamper,
          recipient: try? text("recipient"))
        : adobe.webhookDelivery(event: "observer.sales_order_save_after", order: order, tamper: tamper)
      guard let delivery else { throw CaseValue.Problem("no Adobe order \(order)") }
      let headers = Dictionary(delivery.headers.map { ($0.0.lowercased(), $0.1) }) { _, last in last }
      let answer = await ingress.receive(
        connector: connector, name: io ? "order_events" : "order", headers: headers, body: delivery.body)
      let expected = a["status"] == nil ? 200 : try CaseValue.int(a["status"]!, "status")
      guard answer.status == expected else {
        throw CaseValue.Problem("the webhook was answered \(answer.status) (\(answer.message)), not \(expected)")
      }
      if !io, expected == 200,
        !AdobeCommerceSimulator.takesForSuccess(status: answer.status, body: Array(answer.message.utf8))
      {
        throw CaseValue.Problem("the Webhooks module takes the reply \(answer.message) for a failed hook")
      }
    case "adobe_touch":
      adobe.touch(incrementID: try text("order"), fire: false)
    case "adobe_ship":
      let order = try text("order")
      guard adobe.shipEverything(incrementID: order) else {
        throw CaseValue.Problem("Adobe order \(order) has nothing left to ship")
      }
    case "adobe_replay_request":
      let status = await sandbox.replayLastAdobeRequest()
      guard status == 401 else { throw CaseValue.Problem("the replayed request was answered \(status), not 401") }
    case "x3_add_item":
      let item = try text("item")
      guard sandbox.x3.addItem(item, name: (try? text("name")) ?? item, productClass: (try? text("class")) ?? "GOODS")
      else {
        throw CaseValue.Problem("X3 already has item \(item)")
      }
    case "x3_add_purchase_order":
      guard let missing = sandbox.adobeSeed.missingPO else {
        throw CaseValue.Problem("the seed keeps no purchase order back")
      }
      sandbox.x3.addPurchaseOrder(missing.purchaseOrder)
    default:  // "x3_add_delivery"
      let order = try text("order")
      guard let resource = adobe.orderResource(incrementID: order), let customer = resource["customer_id"] as? Int
      else {
        throw CaseValue.Problem("no Adobe order \(order)")
      }
      let quantity = try CaseValue.int(a["quantity"] ?? .nil_, "quantity")
      sandbox.x3.addDelivery(
        reference: order, customer: String(format: "C%04d", customer), lines: [(try text("item"), quantity)],
        tracking: try text("tracking"), carrier: (try? text("carrier")) ?? "UPS")
    }
  }
}

extension CaseCheck {
  func adobeShipments(_ e: ConnectorCase.ShipmentExpectation) -> [CaseResult.Difference] {
    let adobe = world.sandbox.adobe
    let subject = "adobe shipments of order \(e.order)"
    guard adobe.orderResource(incrementID: e.order) != nil else {
      return [CaseResult.Difference(subject: subject, expected: "an order", actual: "no such order")]
    }
    let shipments = adobe.shipments(incrementID: e.order)
    var out: [CaseResult.Difference] = []
    if let n = e.count, shipments.count != n {
      out.append(CaseResult.Difference(subject: subject + " count", expected: "\(n)", actual: "\(shipments.count)"))
    }
    let numbers = shipments.flatMap { ($0["tracks"] as? [[String: Any]] ?? []).map { "\($0["track_number"] ?? "")" } }
    for t in e.tracks where !numbers.contains(t) {
      out.append(
        CaseResult.Difference(
          subject: subject + " tracks", expected: t, actual: numbers.sorted().joined(separator: ", ")))
    }
    let shipped = adobe.shipped(incrementID: e.order)
    for (sku, qty) in e.shipped.sorted(by: { $0.key < $1.key }) where shipped[sku, default: 0] != qty {
      out.append(
        CaseResult.Difference(
          subject: subject + " shipped \(sku)", expected: "\(qty)", actual: "\(shipped[sku, default: 0])"))
    }
    return out
  }
}
