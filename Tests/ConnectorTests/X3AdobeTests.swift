import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// The x3_adobe connector run by the real binary against the sandbox's Adobe Commerce store and X3 folder, started
/// in this process so they outlive a host that is killed.
struct AdobeRig {
  let sandbox: Sandbox
  let state: URL

  static let script = Repository.root.appendingPathComponent("connectors/x3_adobe.lua")

  static func start(
    orders: Int = 24, faults: Faults = Faults(), latency: Double = 0,
    configure: (inout Sandbox.Options) -> Void = { _ in }
  ) async throws -> AdobeRig {
    var options = Sandbox.Options()
    options.orders = orders
    options.inject(faults)
    if latency > 0 {
      options.x3.faults.latency = latency
      options.adobe.faults.latency = latency
    }
    configure(&options)
    let sandbox = try await Sandbox.start(options, logger: Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() })
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-x3adobe-\(UUID().uuidString)")
    let vault = try CredentialVault(directory: state)
    for c in sandbox.credentials() { try vault.set(c) }
    return AdobeRig(sandbox: sandbox, state: state)
  }

  /// `--set` for the sandbox's Adobe and X3 settings (the connector has no Shopify section), plus `extra`.
  func settings(_ extra: [String: String] = [:]) -> [String] {
    sandbox.settings(for: ["adobe", "x3"]).merging(extra) { _, e in e }
      .sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
  }

  func once(_ extra: [String: String] = [:]) async throws -> MLHostProcess.Result {
    try await MLHostProcess.run(
      ["run", Self.script.path, "--once", "--state", state.path, "--webhook-port", "0", "--admin-port", "0"]
        + settings(extra),
      timeout: 180)
  }

  func host(_ extra: [String: String] = [:], flags: [String] = []) async throws -> HostProcess {
    try await HostProcess(scripts: [Self.script], state: state, extra: settings(extra) + flags)
  }

  var invoices: [[String: Any]] { sandbox.x3.rows("PINVOICE") }
  var invoiceReferences: [String] { invoices.compactMap { $0["BPRVCR"] as? String } }
  var deliveries: [String] { sandbox.x3.rows("SDELIVERY").compactMap { $0["SDHNUM"] as? String } }
  /// The X3 delivery each Adobe shipment was made for (its comment's mark).
  var shippedDeliveries: [String] {
    sandbox.adobe.allShipments.flatMap {
      ($0["comments"] as? [[String: Any]] ?? []).compactMap { c in
        (c["comment"] as? String).flatMap { $0.hasPrefix("X3 delivery ") ? String($0.dropFirst(12)) : nil }
      }
    }
  }

  func stop() {
    sandbox.stop()
    try? FileManager.default.removeItem(at: state)
  }
}

/// Orders of the seed that cannot become supplier invoices: the one paid by cheque (no PO) and the one whose PO
/// X3 does not have.
let withoutPurchaseOrder = 2

@Suite(.serialized) struct X3AdobeTests {
  @Test func fullSyncThenARerunCreatesNothingNew() async throws {
    let rig = try await AdobeRig.start()
    defer { rig.stop() }
    let first = try await rig.once()
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.contains("adobe.order: 22 created, 2 rejected"), "\(first.stdout)")
    #expect(first.stdout.contains("no X3 purchase order with POHNUM = PO26-00405"), "\(first.stdout)")
    #expect(first.stdout.contains("it names no purchase order"), "\(first.stdout)")
    let references = rig.invoiceReferences
    #expect(references.count == 24 - withoutPurchaseOrder)
    #expect(Set(references).count == references.count, "an order was invoiced twice")
    // Money to the cent: each supplier invoice's gross is the Adobe order's grand total.
    let totals = rig.sandbox.adobe.orderTotals
    for invoice in rig.invoices {
      let ref = invoice["BPRVCR"] as! String
      #expect(ExactDecimal("\(invoice["AMTATI"]!)") == totals[ref], "invoice for \(ref)")
    }
    #expect(Set(rig.shippedDeliveries) == Set(rig.deliveries), "\(rig.shippedDeliveries) vs \(rig.deliveries)")
    let before = (rig.invoices.count, rig.sandbox.adobe.allShipments.count)
    let second = try await rig.once()
    #expect(second.status == 0, "\(second.stderr)")
    #expect(!second.stdout.contains(" created"), "\(second.stdout)")
    #expect(rig.invoices.count == before.0 && rig.sandbox.adobe.allShipments.count == before.1)
    #expect(rig.sandbox.counters["adobe.ship_refused"] == 0)
  }

  /// Pages of 2 over orders three to a second: the walk goes by keyset, pages within one second by number, and
  /// a 2.3 store's repeated last page ends it; 2.4 and 2.3 post the same invoices, each once.
  @Test(arguments: ["2.4.6", "2.3.7"])
  func smallPagesOnEitherPagingBehaviourWalkEveryOrderOnce(version: String) async throws {
    let rig = try await AdobeRig.start { $0.adobe.version = version }
    defer { rig.stop() }
    let run = try await rig.once(["adobe.page_size": "2"])
    #expect(run.status == 0, "\(run.stderr)")
    // Orders the delivery job ships while the walk runs come round again at its end (recorded unchanged).
    let line = run.stdout.split(separator: "\n").first { $0.contains("adobe.order:") } ?? ""
    #expect(line.hasSuffix(" 2 rejected") && !line.contains("failed"), "\(run.stdout)")
    let references = rig.invoiceReferences
    #expect(references.count == 22 && Set(references).count == 22, "\(references.sorted())")
  }

  /// Each way of signing in: an OAuth integration (HMAC-SHA256; HMAC-SHA1 where the credential says so and the
  /// store is 2.4.3, refused with the reason by 2.4.4+), an admin login, an integration token as a bearer.
  @Test func everyCredentialKindSignsIn() async throws {
    for (version, kind) in [("2.4.6", "sha1"), ("2.4.3", "sha1"), ("2.4.6", "admin"), ("2.4.6", "bearer")] {
      let rig = try await AdobeRig.start(orders: 3) { o in
        o.adobe.version = version
        o.adobe.integrationAsBearer = kind == "bearer"
      }
      defer { rig.stop() }
      let vault = try CredentialVault(directory: rig.state)
      let c = rig.sandbox.adobe.config
      switch kind {
      case "sha1":
        try vault.set(
          Credential(
            name: "adobe_alt", type: .oauth1,
            fields: [
              "consumer_key": c.consumerKey, "consumer_secret": c.consumerSecret, "token": c.accessToken,
              "token_secret": c.accessTokenSecret, "signature_method": "HMAC-SHA1",
            ], origins: [rig.sandbox.adobeURL]))
      case "bearer":
        try vault.set(
          Credential(
            name: "adobe_alt", type: .bearer, fields: ["token": c.accessToken], origins: [rig.sandbox.adobeURL]))
      default:
        break
      }
      let run = try await rig.once(["adobe.credential": kind == "admin" ? "adobe_admin" : "adobe_alt"])
      if kind == "sha1" && version == "2.4.6" {
        #expect(run.stdout.contains("Signature method HMAC-SHA1 is not supported"), "\(run.stdout)")
        #expect(
          run.stdout.contains("2.4.4 and later take HMAC-SHA256 only")
            || run.stderr.contains("2.4.4 and later take HMAC-SHA256 only"),
          "\(run.stdout)\n\(run.stderr)")
        #expect(rig.invoices.isEmpty)
      } else {
        #expect(run.status == 0, "\(kind) \(version): \(run.stderr)")
        #expect(run.stdout.contains("adobe.order: 2 created, 1 rejected"), "\(kind) \(version): \(run.stdout)")
      }
      #expect((rig.sandbox.counters["adobe.admin_tokens_issued"] ?? 0 > 0) == (kind == "admin"))
    }
  }

  @Test func aHostKilledMidSyncResumesWithoutLossOrDuplicates() async throws {
    let rig = try await AdobeRig.start(orders: 240, latency: 0.02)
    defer { rig.stop() }
    let host = try await rig.host(["concurrency": "4"], flags: ["--lease-seconds", "2"])
    #expect(await eventually(within: 90) { rig.invoices.count >= 30 })
    await host.kill9()
    let partial = rig.invoices.count
    #expect(partial < 240 - withoutPurchaseOrder, "the sync finished before the kill; the test proves nothing")
    let rest = try await rig.once()
    #expect(rest.status == 0, "\(rest.stderr)")
    let references = rig.invoiceReferences
    #expect(references.count == 240 - withoutPurchaseOrder)
    #expect(Set(references).count == references.count, "an order was invoiced twice")
    let shipped = rig.shippedDeliveries
    #expect(Set(shipped).count == shipped.count, "a delivery was shipped twice")
    #expect(Set(shipped) == Set(rig.deliveries))
  }

  @Test func tenPercentFaultsStillLandEverythingExactlyOnce() async throws {
    let rig = try await AdobeRig.start(orders: 60, faults: Faults(rate: 0.1, slowDelay: 1.5, seed: 42))
    defer { rig.stop() }
    // Slow answers outlast these timeouts: the write happened, the host does not know, and must not repeat it.
    let host = try await rig.host([
      "x3.timeout": "1s", "adobe.timeout": "1s", "poll_deliveries": "5s", "poll_orders": "5s",
    ])
    defer { host.process.kill() }
    let landed = await eventually(within: 150) {
      rig.invoices.count >= 60 - withoutPurchaseOrder && Set(rig.shippedDeliveries) == Set(rig.deliveries)
    }
    let open = try await host.store().records(RecordFilter(unresolvedFailures: true, limit: 20)).map {
      "\($0.key) \($0.outcome): \($0.error ?? "")"
    }
    #expect(
      landed,
      "\(rig.invoices.count) invoices, \(rig.shippedDeliveries.count)/\(rig.deliveries.count) deliveries shipped; open:\n\(open.joined(separator: "\n"))"
    )
    try await Task.sleep(nanoseconds: 2_000_000_000)
    let references = rig.invoiceReferences
    #expect(references.count == 60 - withoutPurchaseOrder)
    #expect(Set(references).count == references.count, "an order was invoiced twice")
    let shipped = rig.shippedDeliveries
    #expect(Set(shipped).count == shipped.count, "a delivery was shipped twice")
    let injected = rig.sandbox.adobe.faultsInjected + rig.sandbox.x3.faultsInjected
    #expect(injected >= 10, "only \(injected) faults were injected")
    #expect(
      rig.sandbox.adobe.faultsInjected("serverErrorAfterCommit")
        + rig.sandbox.x3.faultsInjected("serverErrorAfterCommit") >= 1)
    #expect(await host.stop() == 0)
  }
}
