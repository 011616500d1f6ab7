import Foundation
import MLHostSandbox
import MLHostSystems

/// One `mlhost run connectors/x3_adobe.lua --once` (the `mlhost` beside this binary) against a fresh in-process
/// sandbox: the simulated Adobe Commerce store and X3 folder, every API call delayed by `latency`. Answers seconds,
/// supplier invoices and shipments made, and the CPU each side used.
func adobeSyncOnce(orders: Int, latency: Double, settings: [String: String] = [:]) async throws
  -> (seconds: Double, invoices: Int, shipments: Int, hostCPU: Double, sandboxCPU: Double)
{
  var options = Sandbox.Options()
  options.orders = orders
  options.inject(Faults(latency: latency))
  let sandbox = try await Sandbox.start(options, logger: quiet)
  defer { sandbox.stop() }
  let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-bench-adobe-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(at: state) }
  let vault = try CredentialVault(directory: state)
  for c in sandbox.credentials() { try vault.set(c) }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
    "mlhost")
  let own = sandbox.settings(for: ["adobe", "x3"]).merging(settings) { _, b in b }
  p.arguments =
    [
      "run", "connectors/x3_adobe.lua", "--once", "--state", state.path, "--webhook-port", "0", "--admin-port", "0",
      "--log-level", "warning",
    ] + own.flatMap { ["--set", "\($0.key)=\($0.value)"] }
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  let t0 = Date()
  let children0 = cpuSeconds(RUSAGE_CHILDREN.rawValue)
  let self0 = cpuSeconds()
  try p.run()
  while p.isRunning { try await Task.sleep(nanoseconds: 20_000_000) }
  let seconds = Date().timeIntervalSince(t0)
  guard p.terminationStatus == 0 else {
    throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "mlhost exited \(p.terminationStatus)"])
  }
  return (
    seconds, sandbox.x3.rows("PINVOICE").count, sandbox.adobe.allShipments.count,
    cpuSeconds(RUSAGE_CHILDREN.rawValue) - children0, cpuSeconds() - self0
  )
}

/// Adobe Commerce → X3 supplier invoices (and X3 deliveries → Adobe shipments) at 20 ms per API call: default
/// settings and a wider setting, each beside the same connector one order at a time.
func benchAdobe() async throws {
  let latency = 0.020
  let sequential = try await adobeSyncOnce(orders: 150, latency: latency, settings: ["concurrency": "1"])
  let seqRate = Double(sequential.invoices) / sequential.seconds
  for (label, settings) in [
    ("default (concurrency 8, 8 requests in flight per system)", [String: String]()),
    (
      "concurrency 50, 48 in flight per system",
      ["concurrency": "50", "x3.max_concurrent": "48", "adobe.max_concurrent": "48"]
    ),
  ] {
    var runs: [(seconds: Double, invoices: Int, shipments: Int, hostCPU: Double, sandboxCPU: Double)] = []
    for _ in 0..<2 { runs.append(try await adobeSyncOnce(orders: 2000, latency: latency, settings: settings)) }
    let rates = runs.map { Double($0.invoices) / $0.seconds }
    print(
      "adobe: 2,000 Adobe orders → X3 supplier invoices (\(runs[0].invoices) invoices, \(runs[0].shipments) shipments), "
        + "20 ms per API call, \(label): \(rates.map { fmt($0, 0) }.joined(separator: ", ")) invoices/s "
        + "(\(runs.map { fmt($0.seconds, 1) }.joined(separator: ", ")) s); concurrency 1: \(fmt(seqRate, 1)) invoices/s over 150 orders; "
        + "speed-up \(fmt(median(rates) / seqRate, 1))×. CPU per 1,000 invoices: mlhost "
        + "\(fmt(runs[0].hostCPU / Double(runs[0].invoices) * 1000, 2)) s, simulated systems "
        + "\(fmt(runs[0].sandboxCPU / Double(runs[0].invoices) * 1000, 2)) s")
  }
}
