import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// The x3_woocommerce connector, run by the real binary against the sandbox systems started in this process (so
/// they outlive a host that is killed). The store delivers its webhooks over HTTP to the host under test.
struct WooRig {
  let sandbox: Sandbox
  let state: URL

  static let script = Repository.root.appendingPathComponent("connectors/x3_woocommerce.lua")
  static let topics = ["order.created", "order.updated"]

  static func start(orders: Int = 24, faults: Faults = Faults(), latency: Double = 0) async throws -> WooRig {
    var options = Sandbox.Options()
    options.orders = orders
    options.inject(faults)
    if latency > 0 {
      options.x3.faults.latency = latency
      options.woocommerce.faults.latency = latency
    }
    let sandbox = try await Sandbox.start(options, logger: Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() })
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-x3woo-\(UUID().uuidString)")
    let vault = try CredentialVault(directory: state)
    for c in sandbox.credentials() { try vault.set(c) }
    return WooRig(sandbox: sandbox, state: state)
  }

  func settings(_ extra: [String: String] = [:]) -> [String] {
    // Only the sections this connector has: `--set` refuses a setting its schema does not know.
    sandbox.settings(for: ["woocommerce", "x3"]).merging(extra) { _, e in e }.sorted { $0.key < $1.key }.flatMap {
      ["--set", "\($0.key)=\($0.value)"]
    }
  }

  func once(_ extra: [String: String] = [:]) async throws -> MLHostProcess.Result {
    try await MLHostProcess.run(
      ["run", Self.script.path, "--once", "--state", state.path, "--webhook-port", "0", "--admin-port", "0"]
        + settings(extra),
      timeout: 180)
  }

  /// A long-running host whose webhooks the store delivers to (registered once, moved to each new host: the
  /// receiver's public address stays the same in a deployment).
  func host(_ extra: [String: String] = [:], flags: [String] = []) async throws -> HostProcess {
    let host = try await HostProcess(scripts: [Self.script], state: state, extra: settings(extra) + flags)
    let woo = sandbox.woocommerce
    if woo.webhookList.isEmpty {
      for topic in Self.topics {
        woo.addWebhook(
          topic: topic, url: host.webhookURL + "/hooks/x3_woocommerce/" + topic.replacingOccurrences(of: ".", with: "_")
        )
      }
    } else if let old = woo.webhookList.first?.url.components(separatedBy: "/hooks/").first {
      woo.moveWebhooks(from: old, to: host.webhookURL)
    }
    return host
  }

  /// A host that polls and checks webhooks only when asked (`24h`), once its first cycle (a poll and a health check
  /// of the store) is over.
  func idleHost() async throws -> HostProcess {
    let host = try await host(["poll_orders": "24h", "webhook_health": "24h"])
    let store = try host.store()
    let idle = try await eventually(within: 30) {
      let jobs = try await store.stats().jobsByState
      return jobs["succeeded", default: 0] >= 2 && jobs["queued", default: 0] + jobs["running", default: 0] == 0
    }
    if !idle { host.process.kill() }
    try #require(idle, "the host's first cycle did not finish")
    return host
  }

  var invoices: [[String: Any]] { sandbox.x3.rows("SINVOICE").filter { $0["SIVTYP"] as? String == "INV" } }
  var invoiceReferences: [String] { invoices.compactMap { $0["CUSORDREF"] as? String } }
  var issues: [[String: Any]] { sandbox.x3.rows("SMO") }
  var issueReferences: [String] { issues.compactMap { $0["YEXTREF"] as? String } }
  var issueMovements: [[String: Any]] { sandbox.x3.rows("STOJOU").filter { $0["TRSTYP"] as? String == "issue" } }

  /// Orders the store has in a status that invoices (the connector's default), and those that shipped.
  func orders(in statuses: Set<String>) -> [Int] {
    sandbox.woocommerce.orderIDs.filter { statuses.contains(sandbox.woocommerce.order($0)?.status ?? "") }
  }

  /// Every order invoiced exactly once, every shipped order's goods issued exactly once, one movement per line.
  func expectExactlyOnce(invoiced: [Int], shipped: [Int], sourceLocation: SourceLocation = #_sourceLocation) {
    let references = invoiceReferences
    #expect(Set(references).count == references.count, "an order was invoiced twice", sourceLocation: sourceLocation)
    #expect(
      Set(references) == Set(invoiced.map { "WC-\($0)" }), "invoices \(references.sorted())",
      sourceLocation: sourceLocation)
    let issued = issueReferences
    #expect(Set(issued).count == issued.count, "an order's stock was issued twice", sourceLocation: sourceLocation)
    #expect(
      Set(issued) == Set(shipped.map { "WC-\($0)" }), "stock issues \(issued.sorted())", sourceLocation: sourceLocation)
    let lines = sandbox.woocommerce.orderLineCounts
    #expect(
      issueMovements.count == shipped.reduce(0) { $0 + (lines[$1] ?? 0) }, "stock movements",
      sourceLocation: sourceLocation)
  }

  func stop() {
    sandbox.stop()
    try? FileManager.default.removeItem(at: state)
  }
}

/// Seeded orders that invoice but cannot: the unknown product (1005) and the inactive GL account (1007).
let wooRejected: Set<Int> = [1005, 1007]
let wooInvoicing: Set<String> = ["processing", "completed", "shipped", "delivered"]
let wooShipped: Set<String> = ["completed", "shipped", "delivered"]

@Suite(.serialized) struct X3WooCommerceTests {
  @Test func fullSyncThenARerunCreatesNothingNew() async throws {
    let rig = try await WooRig.start()
    defer { rig.stop() }
    let first = try await rig.once()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.contains("unknown product 107 (SKU GHOST-404)"), "\(first.stdout)")
    #expect(first.stdout.contains("GL account 706100 is inactive in X3"), "\(first.stdout)")
    let invoiced = rig.orders(in: wooInvoicing).filter { !wooRejected.contains($0) }
    rig.expectExactlyOnce(invoiced: invoiced, shipped: rig.orders(in: wooShipped).filter { !wooRejected.contains($0) })
    // Money to the cent: each invoice's gross is the order's total.
    let totals = rig.sandbox.woocommerce.orderTotals
    for invoice in rig.invoices {
      let id = Int((invoice["CUSORDREF"] as! String).dropFirst(3))!
      #expect(ExactDecimal(invoice["AMTATI"] as! String) == totals[id], "invoice of order \(id)")
    }
    // The customer missing in X3 was created once, from the order's billing data.
    #expect(
      rig.sandbox.x3.rows("BPCUSTOMER").filter { $0["EMAIL"] as? String == "nadia.ozdemir@example.net" }.count == 1)
    let second = try await rig.once()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(!second.stdout.contains("created"), "\(second.stdout)")
    rig.expectExactlyOnce(invoiced: invoiced, shipped: rig.orders(in: wooShipped).filter { !wooRejected.contains($0) })
  }

  /// A burst of new orders by webhook, killed mid-way; orders shipped while the host is down (their deliveries
  /// fail and are never retried); a catch-up poll, killed mid-way too; then a last run. Nothing lost, nothing twice.
  @Test func killedDuringAWebhookBurstAndACatchUpPoll() async throws {
    let rig = try await WooRig.start(orders: 0, latency: 0.02)
    defer { rig.stop() }
    let woo = rig.sandbox.woocommerce
    let emails = rig.sandbox.seed.customers.map(\.email)
    let skus = ["TSHIRT-M", "MUG-CAFE", "POSTER-A2", "BOOK-DE", "HEADSET-X", "CABLE-USB"]
    var host = try await rig.host(flags: ["--lease-seconds", "2"])
    var placed: [Int] = []
    for i in 0..<120 {
      placed.append(
        try #require(woo.placeOrder(email: emails[i % emails.count], sku: skus[i % skus.count], quantity: 1 + i % 2)))
    }
    #expect(await eventually(within: 60) { rig.invoices.count >= 15 })
    await host.kill9()
    #expect(rig.invoices.count < 120, "the burst finished before the kill; the test proves nothing")
    // While the host is down: shipments, whose deliveries fail.
    for id in placed where id % 3 == 0 { woo.changeOrder(id, status: "completed") }
    #expect(await eventually(within: 10) { woo.deliveriesInFlight == 0 })
    // Back up: the queue resumes; the catch-up poll (killed mid-way) and a last one find the rest.
    host = try await rig.host(flags: ["--lease-seconds", "2"])
    #expect(try await host.admin("POST", "/trigger/x3_woocommerce/pull_orders").0 == 200)
    try await Task.sleep(nanoseconds: 300_000_000)
    await host.kill9()
    host = try await rig.host(flags: ["--lease-seconds", "2"])
    defer { host.process.kill() }
    #expect(try await host.admin("POST", "/trigger/x3_woocommerce/pull_orders").0 == 200)
    let shipped = placed.filter { $0 % 3 == 0 }
    let done = await eventually(within: 120) { rig.invoices.count >= 120 && rig.issues.count >= shipped.count }
    #expect(done, "\(rig.invoices.count) invoices, \(rig.issues.count) stock issues")
    try await Task.sleep(nanoseconds: 1_000_000_000)
    rig.expectExactlyOnce(invoiced: placed, shipped: shipped)
    #expect(await host.stop() == 0)
  }

  /// 10 % of requests to both systems fail — 429/503 of the store's host, 5xx before and after a write committed,
  /// slow answers that outlast the timeout — while orders arrive by webhook and ship.
  @Test func injectedFaultsStillLandEverythingExactlyOnce() async throws {
    let rig = try await WooRig.start(orders: 40, faults: Faults(rate: 0.1, slowDelay: 1.5, seed: 42))
    defer { rig.stop() }
    let host = try await rig.host(["x3.timeout": "1s", "woocommerce.timeout": "1s"])
    defer { host.process.kill() }
    let woo = rig.sandbox.woocommerce
    let emails = rig.sandbox.seed.customers.map(\.email)
    var placed: [Int] = []
    for i in 0..<20 {
      placed.append(try #require(woo.placeOrder(email: emails[i % emails.count], sku: "CABLE-USB", quantity: 1)))
    }
    #expect(try await host.admin("POST", "/trigger/x3_woocommerce/pull_orders").0 == 200)
    for id in placed where id % 2 == 0 { woo.changeOrder(id, status: "shipped") }
    // Deliveries lost to faults are what the safety-net poll is for.
    try await Task.sleep(nanoseconds: 2_000_000_000)
    #expect(try await host.admin("POST", "/trigger/x3_woocommerce/pull_orders").0 == 200)
    let invoiced = rig.orders(in: wooInvoicing).filter { !wooRejected.contains($0) }
    let shipped = rig.orders(in: wooShipped).filter { !wooRejected.contains($0) }
    let landed = await eventually(within: 150) {
      Set(rig.invoiceReferences).isSuperset(of: invoiced.map { "WC-\($0)" })
        && Set(rig.issueReferences).count >= shipped.count
    }
    let open = try await host.store().records(RecordFilter(unresolvedFailures: true, limit: 20)).map {
      "\($0.kind) \($0.key) \($0.outcome): \($0.error ?? "")"
    }
    #expect(
      landed,
      "\(rig.invoices.count) invoices, \(rig.issues.count) issues; needing attention:\n\(open.joined(separator: "\n"))")
    try await Task.sleep(nanoseconds: 2_000_000_000)  // retries still in flight
    rig.expectExactlyOnce(invoiced: invoiced, shipped: shipped)
    #expect(rig.sandbox.x3.faultsInjected + woo.counters["faults_injected", default: 0] >= 10)
    #expect(rig.sandbox.x3.faultsInjected("serverErrorAfterCommit") + woo.faultsInjected("serverErrorAfterCommit") >= 1)
    #expect(await host.stop() == 0)
  }

  /// Forged deliveries are refused before anything is stored; a delivery replayed (even under a new delivery id,
  /// which the signature does not cover) runs once; the unsigned creation ping runs nothing.
  @Test func forgedAndReplayedDeliveries() async throws {
    let rig = try await WooRig.start(orders: 0)
    defer { rig.stop() }
    // The first cycle (a poll and a health check of an empty store) is over before the order exists.
    let host = try await rig.idleHost()
    defer { host.process.kill() }
    let store = try host.store()
    let woo = rig.sandbox.woocommerce
    let hook = try #require(woo.webhookList.first { $0.topic == "order.created" })
    // The store's own delivery is held back, so every copy below is of one delivery.
    woo.setWebhook(hook.id, status: "paused")
    let id = try #require(woo.placeOrder(email: "chloe.dubois@example.com", sku: "MUG-CAFE", quantity: 1))
    let delivery = try #require(woo.delivery(webhook: hook.id, order: id))
    var headers = Dictionary(delivery.headers.map { ($0.0, $0.1) }) { _, last in last }
    let path = "/hooks/x3_woocommerce/order_created"
    // Forged: the body changed after signing, or signed with another secret.
    var tampered = delivery.body
    tampered.append(contentsOf: Array(" ".utf8))
    #expect(await host.post(path, body: tampered, headers: headers) == 401)
    var forged = headers
    forged["X-WC-Webhook-Signature"] = ByteCodecs.base64(
      Digest.hmac(.sha256, key: Array("not-the-secret".utf8), data: delivery.body))
    #expect(await host.post(path, body: delivery.body, headers: forged) == 401)
    // The ping: answered, nothing queued.
    #expect(
      await host.post(
        path, body: Array("webhook_id=\(hook.id)".utf8),
        headers: ["Content-Type": "application/x-www-form-urlencoded"]) == 200)
    // The real delivery, then replays of it.
    #expect(await host.post(path, body: delivery.body, headers: headers) == 200)
    #expect(await host.post(path, body: delivery.body, headers: headers) == 200)
    headers["X-WC-Webhook-Delivery-ID"] = String(repeating: "f", count: 32)
    #expect(await host.post(path, body: delivery.body, headers: headers) == 200)
    let first = await eventually(within: 30) { rig.invoiceReferences.contains("WC-\(id)") }
    #expect(first)
    try await Task.sleep(nanoseconds: 1_000_000_000)
    let rows = try await store.records(RecordFilter(limit: 1000)).filter {
      $0.kind == "woocommerce.order" && $0.key == "\(id)"
    }
    // One run of the delivery (created) and the echo of the invoice number written back (unchanged); nothing else.
    #expect(rows.map(\.outcome.rawValue).sorted() == ["created", "unchanged"], "\(rows.map(\.outcome.rawValue))")
    #expect(rig.invoiceReferences == ["WC-\(id)"])
    #expect(woo.counters["order_updates"] == 1)
    #expect(await host.stop() == 0)
  }

  /// A webhook the store disabled is an alert three ways: a log line at ERROR, a record (re-enabled: `updated`),
  /// and a metric of its own on the admin port, by record kind.
  @Test func aDisabledWebhookIsAlertedByLogRecordAndMetric() async throws {
    let rig = try await WooRig.start(orders: 0)
    defer { rig.stop() }
    let host = try await rig.idleHost()
    defer { host.process.kill() }
    let woo = rig.sandbox.woocommerce
    let hook = try #require(woo.webhookList.first { $0.topic == "order.created" })
    #expect(woo.setWebhook(hook.id, status: "disabled"))
    #expect(try await host.admin("POST", "/trigger/x3_woocommerce/webhook_health").0 == 200)
    #expect(await eventually(within: 30) { woo.webhookList.first { $0.id == hook.id }?.status == "active" })
    let series =
      #"mlhost_records_written_total{connector="x3_woocommerce",kind="woocommerce.webhook",outcome="updated"} 1"#
    let metric = await eventually(within: 10) { (try? await host.admin("GET", "/metrics").1)?.contains(series) == true }
    #expect(metric, "missing \(series)")
    #expect(await host.stop() == 0)
    #expect(host.process.output.contains("WooCommerce webhook was disabled; re-enabled"), "\(host.process.output)")
  }
}
