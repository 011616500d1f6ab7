import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// The sage300_adobe connector, run by the real binary against the sandbox systems started in this process (so they
/// outlive a host that is killed).
struct Sage300Rig {
  let sandbox: Sandbox
  let state: URL

  static let script = Repository.root.appendingPathComponent("connectors/sage300_adobe.lua")

  static func start(
    orders: Int = 24, faults: Faults = Faults(), sage300Latency: Double = 0,
    configure: (inout Sandbox.Options) -> Void = { _ in }
  ) async throws -> Sage300Rig {
    var options = Sandbox.Options()
    options.orders = orders
    options.inject(faults)
    if sage300Latency > 0 { options.sage300.faults.latency = sage300Latency }
    configure(&options)
    let sandbox = try await Sandbox.start(options, logger: Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() })
    let state = FileManager.default.temporaryDirectory.appendingPathComponent(
      "mlhost-sage300adobe-\(UUID().uuidString)")
    let vault = try CredentialVault(directory: state)
    for c in sandbox.credentials() { try vault.set(c) }
    return Sage300Rig(sandbox: sandbox, state: state)
  }

  /// `--set` for the sandbox's URLs and credentials under this connector's sections, plus `extra` settings.
  func settings(_ extra: [String: String] = [:]) -> [String] {
    sandbox.settings(for: ["adobe", "sage300"]).merging(extra) { _, e in e }.sorted { $0.key < $1.key }.flatMap {
      ["--set", "\($0.key)=\($0.value)"]
    }
  }

  func once(_ extra: [String: String] = [:]) async throws -> MLHostProcess.Result {
    try await MLHostProcess.run(
      ["run", Self.script.path, "--once", "--state", state.path, "--webhook-port", "0", "--admin-port", "0"]
        + settings(extra),
      timeout: 300)
  }

  func host(_ extra: [String: String] = [:], flags: [String] = []) async throws -> HostProcess {
    try await HostProcess(scripts: [Self.script], state: state, extra: settings(extra) + flags)
  }

  /// Every AR invoice in both companies.
  var invoices: [[String: Any]] { Sage300Simulator.companies.flatMap { sandbox.sage300.invoices($0) } }
  var documents: [String] { invoices.compactMap { $0["DocumentNumber"] as? String } }
  var batches: [[String: Any]] { Sage300Simulator.companies.flatMap { sandbox.sage300.batches($0) } }
  /// How many times each batch was set ReadyToPost, over both companies.
  var postings: [Int] { Sage300Simulator.companies.flatMap { sandbox.sage300.postings($0).values } }

  /// The orders that become invoices: every seeded order (all are processing, in mapped store views), with the
  /// B2B view's prefix on its document number.
  var eligible: Set<String> {
    Set(sandbox.adobeSeed.orders.map { ($0.storeID == 3 ? "B2B" : "") + $0.incrementID })
  }

  /// Requests that would have changed the store: none may reach it.
  var adobeWrites: Int { sandbox.adobe.counts["writes", default: 0] }

  func stop() {
    sandbox.stop()
    try? FileManager.default.removeItem(at: state)
  }
}

@Suite(.serialized) struct Sage300AdobeTests {
  @Test func fullSyncThenARerunCreatesNothingNew() async throws {
    let rig = try await Sage300Rig.start()
    defer { rig.stop() }
    let first = try await rig.once()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.contains("adobe.order: \(rig.eligible.count) created"), "\(first.stdout)")
    #expect(Set(rig.documents) == rig.eligible)
    #expect(rig.documents.count == rig.eligible.count, "an order was invoiced twice")
    // Both companies got their own batch; each was posted once.
    #expect(Sage300Simulator.companies.allSatisfy { !rig.sandbox.sage300.batches($0).isEmpty })
    #expect(rig.batches.allSatisfy { $0["BatchStatus"] as? String == "ReadyToPost" })
    #expect(rig.postings.allSatisfy { $0 == 1 })
    // Money to the cent: each invoice's total is its order's grand_total.
    for invoice in rig.invoices {
      let document = (invoice["DocumentNumber"] as! String).replacingOccurrences(of: "B2B", with: "")
      let order = try #require(rig.sandbox.adobe.orderResource(incrementID: document))
      #expect(
        ExactDecimal("\(invoice["DocumentTotalIncludingTax"]!)") == ExactDecimal("\(order["grand_total"]!)"),
        "\(document)")
    }
    let second = try await rig.once()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(!second.stdout.contains("adobe.order: ") || !second.stdout.contains(" created"), "\(second.stdout)")
    #expect(rig.documents.count == rig.eligible.count)
    #expect(rig.adobeWrites == 0, "the connector wrote to Adobe")
  }

  /// kill -9 after the run's batches were created and filled, before they were posted: the next run posts them
  /// (once) and finds every invoice already there by its DocumentNumber.
  @Test func aHostKilledBetweenBatchCreationAndPostingResumesWithoutDuplicates() async throws {
    let rig = try await Sage300Rig.start(orders: 160, sage300Latency: 0.03)
    defer { rig.stop() }
    let host = try await rig.host(flags: ["--lease-seconds", "2"])
    #expect(try await host.admin("POST", "/trigger/sage300_adobe/sync").0 == 200)
    let midway = await eventually(within: 120) {
      rig.sandbox.sage300.statistics.batchesCreated >= 1 && rig.invoices.count >= 30
    }
    await host.kill9()
    #expect(midway, "the run did not get going")
    #expect(
      rig.sandbox.sage300.statistics.batchesPosted == 0, "the run posted before the kill; the test proves nothing")
    #expect(rig.invoices.count < rig.eligible.count, "the run finished before the kill; the test proves nothing")
    let rest = try await rig.once()
    #expect(rest.status == 0, "\(rest.stderr)")
    let open = try await SQLiteStore(directory: rig.state).records(RecordFilter(unresolvedFailures: true, limit: 20))
      .map { "\($0.key) \($0.outcome): \($0.error ?? "")" }
    #expect(
      Set(rig.documents) == rig.eligible,
      "missing \(rig.eligible.subtracting(rig.documents)); open: \(open)\n\(rest.stdout)")
    #expect(rig.documents.count == rig.eligible.count, "an order was invoiced twice")
    #expect(rig.batches.allSatisfy { $0["BatchStatus"] as? String == "ReadyToPost" }, "a batch was left open")
    #expect(rig.postings.allSatisfy { $0 == 1 }, "a batch was posted twice: \(rig.postings)")
    #expect(rig.sandbox.sage300.statistics.repostsRefused == 0)
    #expect(rig.adobeWrites == 0)
  }

  @Test func tenPercentFaultsStillLandEveryOrderExactlyOnce() async throws {
    let rig = try await Sage300Rig.start(orders: 60, faults: Faults(rate: 0.1, slowDelay: 1.5, seed: 42))
    defer { rig.stop() }
    // Slow answers outlast these timeouts: the write happened, the host does not know, and must not repeat it.
    let host = try await rig.host(["sage300.timeout": "1s", "adobe.timeout": "1s"])
    defer { host.process.kill() }
    #expect(try await host.admin("POST", "/trigger/sage300_adobe/sync").0 == 200)
    let landed = await eventually(within: 180) {
      Set(rig.documents) == rig.eligible && rig.batches.allSatisfy { $0["BatchStatus"] as? String == "ReadyToPost" }
    }
    let open = try await host.store().records(RecordFilter(unresolvedFailures: true, limit: 20)).map {
      "\($0.outcome): \($0.error ?? "")"
    }
    let jobs = try await host.store().stats().jobsByState
    #expect(
      landed,
      "\(rig.documents.count) invoices of \(rig.eligible.count), batches \(rig.batches.map { "\($0["BatchNumber"]!) \($0["BatchStatus"]!)" }), jobs \(jobs); records needing attention:\n\(open.joined(separator: "\n"))"
    )
    try await Task.sleep(nanoseconds: 2_000_000_000)  // let retries still in flight finish
    #expect(rig.documents.count == rig.eligible.count, "an order was invoiced twice")
    #expect(rig.postings.allSatisfy { $0 == 1 }, "a batch was posted twice: \(rig.postings)")
    let injected = rig.sandbox.sage300.faultsInjected + rig.sandbox.adobe.faultsInjected
    #expect(injected >= 10, "only \(injected) faults were injected")
    #expect(rig.adobeWrites == 0)
    #expect(await host.stop() == 0)
  }

  /// The connector's Adobe system is read-only: a write is refused by the host before it leaves, and the store
  /// never sees it.
  @Test func aWriteToTheReadOnlyAdobeSystemIsRefusedBeforeItLeaves() async throws {
    let rig = try await Sage300Rig.start(orders: 2)
    defer { rig.stop() }
    let script = """
      local adobe_commerce = require "adobe_commerce"
      local c = mlhost.connector { name = "readonly", settings = {
        url = { type = "url", required = true }, credential = { type = "credential", required = true } } }
      c:every("1h", "write", function()
        local shop = adobe_commerce.client { url = c.settings.url, credential = c.settings.credential, read_only = true }
        assert(shop:order(1), "reads go through")
        local ok, err = pcall(shop.create_customer, shop, { email = "new@example.com", firstname = "N", lastname = "W",
          website_id = 1 })
        assert(not ok and tostring(err.message or err):find("is read-only", 1, true), "refused: " .. tostring(err.message or err))
        mlhost.log.info("write refused by the host")
      end)
      return c
      """
    let before = rig.sandbox.adobe.counts
    let run = try await runOnce(
      script, sandbox: rig.sandbox, settings: ["url": rig.sandbox.adobeURL, "credential": "adobe"])
    #expect(run.stderr.contains("write refused by the host"), "\(run.stdout)\n\(run.stderr)")
    let after = rig.sandbox.adobe.counts
    #expect(after["writes", default: 0] == before["writes", default: 0])
    #expect(after["customers"] == before["customers"])
    #expect(after["requests", default: 0] == before["requests", default: 0] + 1, "only the read reached the store")
  }
}
