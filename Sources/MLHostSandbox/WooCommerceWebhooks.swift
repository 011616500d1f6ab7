import Foundation
import HTTPTypes
import Hummingbird
import MLHostCore
import MLHostSystems

/// WooCommerce's webhooks (API facts §2.4, §2.5): the `/webhooks` resource (`failure_count` never exposed, `secret`
/// only in `context=edit`), the unsigned creation ping, deliveries signed with base64(HMAC-SHA256(secret, body)),
/// no retry of a failed delivery, and the automatic `disabled` status once consecutive failures pass the limit.
extension WooCommerceSimulator {
  struct Webhook: Sendable {
    var id: Int
    var name: String
    var status: String
    var topic: String
    var deliveryURL: String
    var secret: String
    var failures = 0
    var created: Double
    var modified: Double

    func json(offset: Int, edit: Bool) -> [String: Any] {
      let parts = topic.split(separator: ".").map(String.init)
      var j: [String: Any] = [
        "id": id, "name": name, "status": status, "topic": topic, "resource": parts.first ?? "",
        "event": parts.last ?? "",
        "hooks": ["woocommerce_\(topic.replacingOccurrences(of: ".", with: "_"))"], "delivery_url": deliveryURL,
        "date_created": WooOrder.local(created, offset), "date_created_gmt": WooOrder.gmt(created),
        "date_modified": WooOrder.local(modified, offset), "date_modified_gmt": WooOrder.gmt(modified),
      ]
      if edit { j["secret"] = secret }
      return j
    }
  }

  static let webhookStatuses: Set<String> = ["active", "paused", "disabled"]

  static func validTopic(_ topic: String) -> Bool {
    let parts = topic.split(separator: ".", maxSplits: 1).map(String.init)
    guard parts.count == 2 else { return false }
    if parts[0] == "action" { return parts[1].hasPrefix("woocommerce_") || parts[1].hasPrefix("wc_") }
    guard ["coupon", "customer", "order", "product"].contains(parts[0]) else { return false }
    return ["created", "updated", "deleted", "restored"].contains(parts[1])
      || (parts[0] == "product" && parts[1] == "published")
  }

  func webhookAPI(_ method: HTTPRequest.Method, id: String?, q: [String: String], body: Data) async -> Response {
    let offset = config.utcOffset
    let edit = q["context"] == "edit"
    let fields = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
    switch (method, id) {
    case (.get, nil):
      let status = q["status"] ?? "all"
      let rows = lock.withLock {
        webhooks.values.filter { status == "all" || $0.status == status }.sorted { $0.id < $1.id }.map {
          $0.json(offset: offset, edit: edit)
        }
      }
      return list(.ok(rows), q: q, path: "webhooks")
    case (.post, nil):
      guard let topic = fields["topic"] as? String, Self.validTopic(topic) else {
        return Self.wpError(
          "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid.",
          status: .badRequest)
      }
      guard let url = fields["delivery_url"] as? String, url.hasPrefix("http://") || url.hasPrefix("https://") else {
        return Self.wpError(
          "woocommerce_rest_shop_webhook_invalid_delivery_url",
          "Webhook delivery URL must be a valid URL starting with http:// or https://.", status: .badRequest)
      }
      if let s = fields["status"], !(s is String && Self.webhookStatuses.contains(s as! String)) {
        return Self.wpError(
          "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.", status: .badRequest)
      }
      let now = Date().timeIntervalSince1970
      let hook: Webhook = lock.withLock {
        nextID += 1
        let secret = fields["secret"] as? String ?? Digest.uuid4() + Digest.uuid4()
        let w = Webhook(
          id: nextID, name: fields["name"] as? String ?? "Webhook created on \(WooOrder.gmt(now))",
          status: fields["status"] as? String ?? "active", topic: topic, deliveryURL: url, secret: secret,
          created: now, modified: now)
        webhooks[w.id] = w
        counted["webhooks_created", default: 0] += 1
        return w
      }
      // The ping goes out after saving; the answer is 201 whatever it meets.
      await ping(hook)
      var headers: HTTPFields = [:]
      headers[.location] = "/wp-json/wc/v3/webhooks/\(hook.id)"
      return SimJSON.response(hook.json(offset: offset, edit: false), status: .created, headers: headers)
    case (.get, let id?):
      guard let w = Int(id).flatMap({ n in lock.withLock { webhooks[n] } }) else { return Self.invalidWebhook() }
      return SimJSON.response(w.json(offset: offset, edit: edit))
    case (.put, let id?), (.patch, let id?), (.post, let id?):
      if let s = fields["status"], !(s is String && Self.webhookStatuses.contains(s as! String)) {
        return Self.wpError(
          "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.", status: .badRequest)
      }
      if let t = fields["topic"], !(t is String && Self.validTopic(t as! String)) {
        return Self.wpError(
          "woocommerce_rest_shop_webhook_invalid_topic", "Webhook topic is required and must be valid.",
          status: .badRequest)
      }
      let updated: Webhook? = lock.withLock {
        guard let n = Int(id), var w = webhooks[n] else { return nil }
        if let s = fields["status"] as? String {
          // Activating again starts the failure count afresh (WC_Webhook::set_status on the REST update).
          if s == "active" && w.status != "active" { w.failures = 0 }
          w.status = s
        }
        if let t = fields["topic"] as? String { w.topic = t }
        if let u = fields["delivery_url"] as? String { w.deliveryURL = u }
        if let s = fields["secret"] as? String { w.secret = s }
        if let name = fields["name"] as? String { w.name = name }
        w.modified = Date().timeIntervalSince1970
        webhooks[n] = w
        return w
      }
      guard let updated else { return Self.invalidWebhook() }
      return SimJSON.response(updated.json(offset: offset, edit: false))
    case (.delete, let id?):
      guard ["1", "true"].contains(q["force"] ?? "") else {
        return Self.wpError(
          "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", status: .notImplemented)
      }
      guard let gone = Int(id).flatMap({ n in lock.withLock { webhooks.removeValue(forKey: n) } }) else {
        return Self.invalidWebhook()
      }
      return SimJSON.response(gone.json(offset: offset, edit: false))
    default:
      return Self.wpError("rest_no_route", "No route was found matching the URL and request method.", status: .notFound)
    }
  }

  static func invalidWebhook() -> Response {
    wpError("woocommerce_rest_webhook_invalid_id", "Invalid ID.", status: .notFound)
  }

  var userAgent: String { "WooCommerce/9.5.1 Hookshot (WordPress/6.7.1)" }

  /// The creation ping: `webhook_id=N`, form-encoded, no X-WC-Webhook-* headers and no signature.
  private func ping(_ hook: Webhook) async {
    lock.withLock { inFlight += 1 }
    defer { lock.withLock { inFlight -= 1 } }
    let status = await transport(
      hook.deliveryURL, [("Content-Type", "application/x-www-form-urlencoded"), ("User-Agent", userAgent)],
      Array("webhook_id=\(hook.id)".utf8))
    count(status == 200 ? "pings_answered" : "pings_failed")
  }

  /// The delivery of `payload` for webhook `hook`, as WooCommerce sends it.
  func delivery(_ hook: Webhook, _ payload: [String: Any]) -> (headers: [(String, String)], body: [UInt8]) {
    let body = Array(SimJSON.data(payload))
    let signature = ByteCodecs.base64(Digest.hmac(.sha256, key: Array(hook.secret.utf8), data: body))
    // wp_hash(webhook_id . strtotime('now')): per delivery and time-based, never a stable event id.
    let now = Int(Date().timeIntervalSince1970)
    let deliveryID = String(
      ByteCodecs.hex(Digest.hmac(.sha1, key: Array("wp_hash".utf8), data: Array("\(hook.id)\(now)".utf8))).prefix(32))
    let parts = hook.topic.split(separator: ".").map(String.init)
    return (
      [
        ("Content-Type", "application/json"), ("User-Agent", userAgent), ("X-WC-Webhook-Source", homeURL + "/"),
        ("X-WC-Webhook-Topic", hook.topic), ("X-WC-Webhook-Resource", parts.first ?? ""),
        ("X-WC-Webhook-Event", parts.last ?? ""),
        ("X-WC-Webhook-Signature", signature), ("X-WC-Webhook-ID", "\(hook.id)"),
        ("X-WC-Webhook-Delivery-ID", deliveryID),
      ], body
    )
  }

  /// Sends `payload` to every active webhook of `topic`, each once and asynchronously (Action Scheduler); a
  /// failure is never retried. A 2xx, 300, 301 or 302 resets the failure count; anything else raises it, and the
  /// failure after it passed `maxDeliveryFailures` disables the webhook.
  func fire(_ topic: String, _ payload: [String: Any]) {
    let targets: [Webhook] = lock.withLock {
      let hooks = webhooks.values.filter { $0.topic == topic && $0.status == "active" }.sorted { $0.id < $1.id }
      inFlight += hooks.count
      return hooks
    }
    for hook in targets {
      let (headers, body) = delivery(hook, payload)
      let reachable: Bool = lock.withLock {
        guard unreachable > 0 else { return true }
        unreachable -= 1
        return false
      }
      Task {
        let status = reachable ? await transport(hook.deliveryURL, headers, body) : nil
        settle(hook.id, status: status)
      }
    }
  }

  /// Records one delivery's result, as `WC_Webhook::log_delivery` does.
  func settle(_ id: Int, status: Int?) {
    lock.withLock {
      inFlight -= 1
      counted["deliveries", default: 0] += 1
      guard var w = webhooks[id] else { return }
      if let s = status, (200..<303).contains(s) {
        w.failures = 0
      } else {
        counted["deliveries_failed", default: 0] += 1
        if w.failures > config.maxDeliveryFailures {
          w.status = "disabled"
          counted["webhooks_disabled", default: 0] += 1
        } else {
          w.failures += 1
        }
      }
      webhooks[id] = w
    }
  }

  // MARK: control surface and tests

  /// The receiver cannot be reached for the next `deliveries` deliveries (each counts as a failed delivery).
  public func receiverDown(for deliveries: Int) { lock.withLock { unreachable = max(0, deliveries) } }

  /// Changes order `id` as the merchant would (its status; `refunded` adds a full refund) and fires
  /// `order.updated`; answers false when there is no such order. `at` keeps the modified second (orders sharing one).
  @discardableResult
  public func changeOrder(_ id: Int, status: String, at: Double? = nil) -> Bool {
    guard Self.statuses.contains(status) else { return false }
    let changed: WooOrder? = lock.withLock {
      guard var o = orders[id] else { return nil }
      o.status = status
      // Refunded in full by the merchant: WooCommerce refunds what is left (all of it, or what earlier refunds left).
      if status == "refunded" { o.refundRest(reason: "Refunded by the merchant", at: Date().timeIntervalSince1970) }
      if status == "completed" { o.completed = Date().timeIntervalSince1970 }
      if ["processing", "completed"].contains(status) && o.paid == nil { o.paid = Date().timeIntervalSince1970 }
      o.modified = (at ?? Date().timeIntervalSince1970).rounded(.down)
      orders[id] = o
      return o
    }
    guard let changed else { return false }
    fire("order.updated", changed.json(offset: config.utcOffset))
    return true
  }

  /// A new order of a seeded customer (`order.created` fires); answers its id.
  public func placeOrder(email: String, sku: String, quantity: Int, status: String = "processing") -> Int? {
    let placed: WooOrder? = lock.withLock {
      guard let (pid, product) = products.first(where: { $0.value.sku == sku }).map({ ($0.key, $0.value) }) else {
        return nil
      }
      let known = customers.values.first { $0.email.lowercased() == email.lowercased() }
      let person = SandboxSeed.Customer(first: known?.first ?? "Guest", last: known?.last ?? "Buyer", email: email)
      let id = (orders.keys.max() ?? 1000) + 1
      let now = Date().timeIntervalSince1970
      let seedOrder = SandboxSeed.Order(
        number: id, customer: person, lines: [.init(product: product, quantity: quantity)], createdAt: now,
        financialStatus: status == "pending" ? "PENDING" : "PAID", fulfilled: false, cancelled: false)
      var o = WooOrder(
        seed: seedOrder, productIDs: [sku: pid], customerIDs: known.map { [email.lowercased(): $0.id] } ?? [:])
      o.status = status
      orders[id] = o
      return o
    }
    guard let placed else { return nil }
    fire("order.created", placed.json(offset: config.utcOffset))
    return placed.id
  }

  /// The delivery webhook `id` would send for order `order` in its current state, for a receiver in this process.
  public func delivery(webhook id: Int, order: Int) -> (headers: [(String, String)], body: [UInt8])? {
    guard
      let (hook, o) = lock.withLock({ () -> (Webhook, WooOrder)? in
        guard let h = webhooks[id], let o = orders[order] else { return nil }
        return (h, o)
      })
    else { return nil }
    return delivery(hook, o.json(offset: config.utcOffset))
  }

  /// Registers a webhook as a merchant would in the admin (no ping is awaited); answers its id.
  @discardableResult
  public func addWebhook(topic: String, url: String, secret: String? = nil, status: String = "active") -> Int {
    lock.withLock {
      nextID += 1
      let now = Date().timeIntervalSince1970
      webhooks[nextID] = Webhook(
        id: nextID, name: "\(topic) → mlhost", status: status, topic: topic, deliveryURL: url,
        secret: secret ?? config.webhookSecret, created: now, modified: now)
      return nextID
    }
  }

  /// Deletes webhook `id`, as an admin would.
  /// Deletes the product with `sku` (as a merchant cleaning the catalogue): its order lines keep their product id
  /// and lose their SKU, which WooCommerce reads from the product. Answers whether the store sold it.
  public func deleteProduct(sku: String) -> Bool {
    lock.withLock {
      guard let id = products.first(where: { $0.value.sku == sku })?.key else { return false }
      products.removeValue(forKey: id)
      for (n, var o) in orders where o.lines.contains(where: { $0.productID == id }) {
        for i in o.lines.indices where o.lines[i].productID == id { o.lines[i].sku = nil }
        orders[n] = o
      }
      return true
    }
  }

  /// Adds a fee line of `amount` (taxed at the order's VAT, or Texas's and Austin's rates) to order `id`, as a
  /// merchant editing it; `order.updated` fires. Answers whether the store has the order.
  public func addFee(_ id: Int, name: String, amount: ExactDecimal) -> Bool {
    let changed: WooOrder? = lock.withLock {
      guard var o = orders[id] else { return nil }
      o.fees.append(
        WooOrder.Fee(
          id: id * 100 + 50 + o.fees.count, name: name, amount: amount,
          taxes: WooOrder.taxes(on: amount, rate: dec("0.19"), us: o.country == "US")))
      o.modified = Date().timeIntervalSince1970.rounded(.down)
      orders[id] = o
      return o
    }
    guard let changed else { return false }
    fire("order.updated", changed.json(offset: config.utcOffset))
    return true
  }

  /// Blocks a route (`POST /orders/batch`) as a security plugin or host might: it answers 404 `rest_no_route`.
  public func blockRoute(_ target: String) { _ = lock.withLock { blocked.insert(target) } }

  public func removeWebhook(_ id: Int) { _ = lock.withLock { webhooks.removeValue(forKey: id) } }

  /// What the store's deliveries give as their User-Agent.
  public var userAgentText: String { userAgent }

  /// Sets webhook `id`'s status as an admin (`paused`) or the store after failures (`disabled`) would.
  @discardableResult
  public func setWebhook(_ id: Int, status: String) -> Bool {
    lock.withLock {
      guard webhooks[id] != nil, Self.webhookStatuses.contains(status) else { return false }
      webhooks[id]!.status = status
      return true
    }
  }

  /// Points every webhook whose URL starts with `old` at `new` instead (the receiver moved behind a stable name).
  public func moveWebhooks(from old: String, to new: String) {
    lock.withLock {
      for (id, w) in webhooks where w.deliveryURL.hasPrefix(old) {
        webhooks[id]!.deliveryURL = new + w.deliveryURL.dropFirst(old.count)
      }
    }
  }

  /// Faults of one kind injected so far (`serverErrorAfterCommit`…).
  public func faultsInjected(_ kind: String) -> Int {
    plan.injected.withLock { s in s.first { $0.key.rawValue == kind }?.value ?? 0 }
  }

  /// Each order's total, by id.
  public var orderTotals: [Int: ExactDecimal] { lock.withLock { orders.mapValues(\.total) } }

  /// Each order's line count, by id.
  public var orderLineCounts: [Int: Int] { lock.withLock { orders.mapValues(\.lines.count) } }

  /// The webhooks: id, topic, status, URL.
  public var webhookList: [(id: Int, topic: String, status: String, url: String)] {
    lock.withLock { webhooks.values.sorted { $0.id < $1.id }.map { ($0.id, $0.topic, $0.status, $0.deliveryURL) } }
  }

  /// The status and meta data of order `id`.
  public func order(_ id: Int) -> (status: String, meta: [String: String], modified: Double)? {
    lock.withLock {
      orders[id].map { o in
        (o.status, Dictionary(o.meta.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b }), o.modified)
      }
    }
  }

  public var orderIDs: [Int] { lock.withLock { orders.keys.sorted() } }

  /// Deliveries sent and not yet answered.
  public var deliveriesInFlight: Int { lock.withLock { inFlight } }

  /// What the store counted, by name (`requests`, `order_updates`, `deliveries_failed`, `webhooks_disabled`…).
  public var counters: [String: Int] {
    lock.withLock {
      var c = counted
      for name in [
        "requests", "auth_failures", "order_updates", "duplicate_emails", "duplicate_skus", "products_created",
        "deliveries", "deliveries_failed", "webhooks_created", "webhooks_disabled", "pings_answered", "pings_failed",
      ] where c[name] == nil { c[name] = 0 }
      c["faults_injected"] = plan.injected.withLock { $0.values.reduce(0, +) }
      c["webhooks_active"] = webhooks.values.filter { $0.status == "active" }.count
      c["customers"] = customers.count
      return c
    }
  }

  func controlRoutes(_ router: Router<BasicRequestContext>, token: String?) {
    SandboxControl.route(router, .post, "/sandbox/woocommerce/orders", token: token) { [self] request, _ in
      let body = try await SimJSON.parse(request)
      guard let email = body["email"] as? String, email.contains("@"), let sku = body["sku"] as? String else {
        return SandboxControl.refuse("email and sku expected")
      }
      guard
        let id = placeOrder(
          email: email, sku: sku, quantity: body["quantity"] as? Int ?? 1,
          status: body["status"] as? String ?? "processing")
      else {
        return SandboxControl.refuse("the store sells no SKU \(sku)", status: .notFound)
      }
      return SimJSON.response(["id": id])
    }
    SandboxControl.route(router, .post, "/sandbox/woocommerce/orders/{id}", token: token) { [self] request, context in
      let body = try await SimJSON.parse(request)
      guard let id = context.parameters.get("id", as: Int.self), let status = body["status"] as? String,
        changeOrder(id, status: status)
      else {
        return SandboxControl.refuse(
          "no order \(context.parameters.get("id") ?? ""), or a status that is not one of "
            + Self.statuses.sorted().joined(separator: ", "), status: .notFound)
      }
      return SimJSON.response(["id": id, "status": status])
    }
    SandboxControl.route(router, .get, "/sandbox/woocommerce/status", token: token) { [self] _, _ in
      SimJSON.response(counters)
    }
  }
}
