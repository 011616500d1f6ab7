import Foundation
import MLHostSandbox
import MLHostSystems
import MLHostTesting

/// A fresh sandbox (20 ms added to every X3 and WooCommerce API call) and a state with its credentials.
private func wooSandbox(orders: Int, latency: Double) async throws -> (Sandbox, URL) {
  var options = Sandbox.Options()
  options.orders = orders
  options.inject(Faults(latency: latency))
  let sandbox = try await Sandbox.start(options, logger: quiet)
  let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-bench-woo-\(UUID().uuidString)")
  let vault = try CredentialVault(directory: state)
  for c in sandbox.credentials() { try vault.set(c) }
  return (sandbox, state)
}

private func wooSettings(_ sandbox: Sandbox, _ extra: [String: String] = [:]) -> [String] {
  sandbox.settings(for: ["woocommerce", "x3"]).merging(extra) { _, b in b }
    .flatMap { ["--set", "\($0.key)=\($0.value)"] }
}

/// The executable `name` in this binary's folder (`.build/release/mlhost` beside `.build/release/mlhost-bench`).
private func besideThisBinary(_ name: String) -> URL {
  URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
}

private func invoices(_ sandbox: Sandbox) -> Int { sandbox.x3.rows("SINVOICE").count }

/// `orders` new orders arriving by webhook at a long-running host (`--concurrency` jobs at once): seconds until
/// each is invoiced (its write-back and the echo included in the work).
func wooWebhooks(orders: Int, latency: Double, concurrency: Int) async throws -> Double {
  let (sandbox, state) = try await wooSandbox(orders: 0, latency: latency)
  defer {
    sandbox.stop()
    try? FileManager.default.removeItem(at: state)
  }
  let script = Repository.root.appendingPathComponent("connectors/x3_woocommerce.lua")
  // The mlhost beside this binary, as the poll below runs: HostProcess alone prefers a debug build when one exists.
  let host = try await HostProcess(
    scripts: [script], state: state,
    extra: wooSettings(
      sandbox,
      [
        "poll_orders": "24h", "webhook_health": "24h",
      ]) + ["--concurrency", "\(concurrency)"], executable: besideThisBinary("mlhost"))
  defer { host.process.kill() }
  let woo = sandbox.woocommerce
  for topic in ["order.created", "order.updated"] {
    woo.addWebhook(
      topic: topic, url: host.webhookURL + "/hooks/x3_woocommerce/" + topic.replacingOccurrences(of: ".", with: "_"))
  }
  try await Task.sleep(nanoseconds: 1_000_000_000)  // the first cycle (an empty store) is over
  let emails = sandbox.seed.customers.filter { $0.x3Code != nil }.map(\.email)
  let skus = ["TSHIRT-M", "MUG-CAFE", "POSTER-A2", "BOOK-DE", "HEADSET-X", "CABLE-USB"]
  let t0 = Date()
  for i in 0..<orders {
    _ = woo.placeOrder(email: emails[i % emails.count], sku: skus[i % skus.count], quantity: 1)
    if i % 50 == 49 { try await Task.sleep(nanoseconds: 1_000_000) }  // a store's burst, not one instant
  }
  while invoices(sandbox) < orders {
    guard Date().timeIntervalSince(t0) < 900 else { throw CocoaError(.executableLoad) }
    try await Task.sleep(nanoseconds: 20_000_000)
  }
  let seconds = Date().timeIntervalSince(t0)
  _ = await host.stop()
  return seconds
}

/// `mlhost run --once` over a store of `orders` seeded orders, its webhooks registered and active (so the health
/// job has nothing to catch up): the poll alone, `concurrency` orders in flight. Seconds and invoices.
func wooPoll(orders: Int, latency: Double, concurrency: Int) async throws -> (seconds: Double, invoices: Int) {
  let (sandbox, state) = try await wooSandbox(orders: orders, latency: latency)
  defer {
    sandbox.stop()
    try? FileManager.default.removeItem(at: state)
  }
  for topic in ["order.created", "order.updated"] {
    sandbox.woocommerce.addWebhook(
      topic: topic, url: "http://127.0.0.1:9/hooks/x3_woocommerce/" + topic.replacingOccurrences(of: ".", with: "_"))
  }
  let p = Process()
  p.executableURL = besideThisBinary("mlhost")
  p.currentDirectoryURL = Repository.root
  p.arguments =
    [
      "run", "connectors/x3_woocommerce.lua", "--once", "--state", state.path, "--webhook-port", "0", "--admin-port",
      "0",
      "--log-level", "warning",
    ] + wooSettings(sandbox, ["concurrency": "\(concurrency)"])
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  let t0 = Date()
  try p.run()
  while p.isRunning { try await Task.sleep(nanoseconds: 20_000_000) }
  guard p.terminationStatus == 0 else {
    throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "mlhost exited \(p.terminationStatus)"])
  }
  return (Date().timeIntervalSince(t0), invoices(sandbox))
}

/// WooCommerce → X3 at 20 ms per API call: orders by webhook (host concurrency 16 vs 1) and by the catch-up poll
/// (connector concurrency 20 vs 1).
func benchWoo() async throws {
  let latency = 0.020
  let hookOne = try await wooWebhooks(orders: 100, latency: latency, concurrency: 1)
  var hooks: [Double] = []
  for _ in 0..<2 { hooks.append(try await wooWebhooks(orders: 1000, latency: latency, concurrency: 16)) }
  let hookRate = median(hooks.map { 1000 / $0 })
  let hookOneRate = 100 / hookOne
  print(
    "woo webhooks: 1,000 new orders by order.created, 20 ms per API call: host concurrency 16 "
      + "\(hooks.map { fmt(1000 / $0, 0) }.joined(separator: ", ")) invoices/s; concurrency 1: \(fmt(hookOneRate, 1)) invoices/s "
      + "over 100 orders; speed-up \(fmt(hookRate / hookOneRate, 1))×")
  let pollOne = try await wooPoll(orders: 100, latency: latency, concurrency: 1)
  var polls: [(seconds: Double, invoices: Int)] = []
  for _ in 0..<2 { polls.append(try await wooPoll(orders: 1000, latency: latency, concurrency: 20)) }
  let pollRate = median(polls.map { Double($0.invoices) / $0.seconds })
  let pollOneRate = Double(pollOne.invoices) / pollOne.seconds
  print(
    "woo catch-up poll: 1,000 seeded orders (\(polls[0].invoices) invoice), 20 ms per API call: concurrency 20 "
      + "\(polls.map { fmt(Double($0.invoices) / $0.seconds, 0) }.joined(separator: ", ")) invoices/s; concurrency 1: "
      + "\(fmt(pollOneRate, 1)) invoices/s over 100 orders; speed-up \(fmt(pollRate / pollOneRate, 1))×")
}
