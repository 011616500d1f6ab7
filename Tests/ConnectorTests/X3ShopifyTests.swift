import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// The x3_shopify connector, run by the real binary against the sandbox systems started in this process (so they
/// outlive a host that is killed). Each test has its own sandbox, state and ports.
struct Rig {
  let sandbox: Sandbox
  let state: URL

  static let script = Repository.root.appendingPathComponent("connectors/x3_shopify.lua")

  static func start(
    orders: Int = 24, faults: Faults = Faults(), x3Latency: Double = 0,
    configure: (inout Sandbox.Options) -> Void = { _ in }
  ) async throws -> Rig {
    var options = Sandbox.Options()
    options.orders = orders
    options.inject(faults)
    if x3Latency > 0 { options.x3.faults.latency = x3Latency }
    configure(&options)
    let sandbox = try await Sandbox.start(options, logger: Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() })
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-x3shopify-\(UUID().uuidString)")
    let vault = try CredentialVault(directory: state)
    for c in sandbox.credentials() { try vault.set(c) }
    return Rig(sandbox: sandbox, state: state)
  }

  /// `--set` for the sandbox's URLs, plus `extra` settings.
  func settings(_ extra: [String: String] = [:]) -> [String] {
    sandbox.settings(for: ["shopify", "x3"]).merging(extra) { _, e in e }.sorted { $0.key < $1.key }.flatMap {
      ["--set", "\($0.key)=\($0.value)"]
    }
  }

  /// One `--once` run to its end.
  func once(_ extra: [String: String] = [:]) async throws -> MLHostProcess.Result {
    try await MLHostProcess.run(
      ["run", Self.script.path, "--once", "--state", state.path, "--webhook-port", "0", "--admin-port", "0"]
        + settings(extra),
      timeout: 120)
  }

  /// A long-running host; `flags` are command-line options (`--lease-seconds`), `extra` settings.
  func host(_ extra: [String: String] = [:], flags: [String] = []) async throws -> HostProcess {
    try await HostProcess(scripts: [Self.script], state: state, extra: settings(extra) + flags)
  }

  var invoices: [[String: Any]] { sandbox.x3.rows("SINVOICE") }
  var invoiceReferences: [String] { invoices.compactMap { $0["CUSORDREF"] as? String } }
  /// The deliveries made for Shopify fulfilments (the folder also holds the Adobe store's, seeded in X3).
  var deliveries: [[String: Any]] { sandbox.x3.rows("SDELIVERY").filter { $0["YSHOPFUL"] != nil } }

  func stop() {
    sandbox.stop()
    try? FileManager.default.removeItem(at: state)
  }
}

/// Orders the seed makes that cannot become invoices: the customer missing in X3, the unknown SKU, the inactive
/// GL account, the order cancelled before it was invoiced, and the order still pending payment (it waits).
let uninvoiceable = 5

@Suite(.serialized) struct X3ShopifyTests {
  /// Over X3's REST api1 (gateway token) and its GraphQL API (connected-app JWT): the same outcome.
  @Test(arguments: ["rest", "graphql"])
  func fullSyncThenARerunCreatesNothingNew(api: String) async throws {
    let rig = try await Rig.start()
    defer { rig.stop() }
    let settings = api == "graphql" ? ["x3.api": "graphql", "x3.credential": "x3_app"] : [:]
    let first = try await rig.once(settings)
    #expect(first.status == 0, "\(first.stderr)")
    #expect(first.stdout.contains("shopify.order: 19 created, 2 unchanged, 3 rejected"), "\(first.stdout)")
    #expect(first.stdout.contains("no X3 customer with email nadia.ozdemir@example.net"))
    #expect(first.stdout.contains("unknown SKU GHOST-404"))
    #expect(first.stdout.contains("GL account 706100 is inactive in X3"))
    #expect(first.stdout.contains("mlhost replay "))
    let references = rig.invoiceReferences
    #expect(references.count == 24 - uninvoiceable)
    #expect(Set(references).count == references.count, "an order was invoiced twice")
    // Money to the cent: each invoice's gross is the Shopify order's total, and lines + tax balance.
    let totals = rig.sandbox.shopify.orderTotals
    for invoice in rig.invoices {
      let ref = invoice["CUSORDREF"] as! String
      #expect(ExactDecimal(invoice["AMTATI"] as! String) == totals[ref], "invoice for \(ref)")
    }
    #expect(rig.deliveries.count == rig.sandbox.shopify.fulfilledOrders.intersection(references).count)
    // Again: the cursors have moved, and every lookup finds what exists. Nothing new in X3.
    let invoicesBefore = rig.invoices.count
    let deliveriesBefore = rig.deliveries.count
    let second = try await rig.once(settings)
    #expect(second.status == 0, "\(second.stderr)")
    #expect((rig.sandbox.x3.graphQLRequests > 0) == (api == "graphql"))
    #expect(!second.stdout.contains("created"), "\(second.stdout)")
    #expect(rig.invoices.count == invoicesBefore)
    #expect(rig.deliveries.count == deliveriesBefore)
    // X3 stock reached Shopify, including what the first cycle's deliveries took out of it.
    for row in rig.sandbox.x3.rows("STOCK") {
      let item = row["ITMREF"] as! String
      let sku = item == "TS-BIO-M" ? "TSHIRT-M" : item
      #expect(rig.sandbox.shopify.available(sku: sku) == row["QTYSTU"] as? Int, "stock of \(sku)")
    }
  }

  /// A dry run goes through the connector's whole logic: creations are planned with a placeholder number and
  /// listed, nothing reaches either system, and the state folder is untouched.
  @Test(arguments: ["rest", "graphql"])
  func aDryRunPlansEveryWriteAndSendsNone(api: String) async throws {
    let rig = try await Rig.start()
    defer { rig.stop() }
    let settings = api == "graphql" ? ["x3.api": "graphql", "x3.credential": "x3_app"] : [:]
    let run = try await MLHostProcess.run(
      ["run", Rig.script.path, "--dry-run", "--state", rig.state.path, "--webhook-port", "0", "--admin-port", "0"]
        + rig.settings(settings), timeout: 120)
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("shopify.order: 19 created, 2 unchanged, 3 rejected\n"), "\(run.stdout)")
    #expect(run.stdout.contains("x3.stock: 7 updated\n"), "\(run.stdout)")
    #expect(!run.stdout.contains("  failed "), "\(run.stdout)")
    #expect(run.stdout.contains("dry run: 26 request(s) would have been sent"), "\(run.stdout)")
    #expect(rig.invoices.isEmpty)
    #expect(rig.sandbox.shopify.stats.inventorySets == 0)
    let untouched = try await SQLiteStore(directory: rig.state).stats()
    #expect(untouched.jobsByState.isEmpty && untouched.recordsByOutcome.isEmpty, "\(untouched)")
  }

  @Test func aHostKilledMidSyncResumesWithoutLossOrDuplicates() async throws {
    let rig = try await Rig.start(orders: 240, x3Latency: 0.02)
    defer { rig.stop() }
    // A short lease, so the killed host's job is taken over within seconds rather than a minute.
    let host = try await rig.host(flags: ["--lease-seconds", "2"])
    #expect(await eventually(within: 60) { rig.invoices.count >= 40 })
    await host.kill9()
    let partial = rig.invoices.count
    #expect(partial < 240 - uninvoiceable, "the sync finished before the kill; the test proves nothing")
    let rest = try await rig.once()
    #expect(rest.status == 0, "\(rest.stderr)")
    let references = rig.invoiceReferences
    #expect(references.count == 240 - uninvoiceable)
    #expect(Set(references).count == references.count, "an order was invoiced twice")
    #expect(Set(rig.deliveries.compactMap { $0["YSHOPFUL"] as? String }).count == rig.deliveries.count)
  }

  @Test func injectedFaultsStillLandEverythingExactlyOnce() async throws {
    let rig = try await Rig.start(orders: 60, faults: Faults(rate: 0.1, slowDelay: 1.5, seed: 42))
    defer { rig.stop() }
    // Slow answers outlast these timeouts: the write happened, the host does not know, and must not repeat it.
    let host = try await rig.host(["x3.timeout": "1s", "shopify.timeout": "1s"])
    defer { host.process.kill() }
    let landed = await eventually(within: 120) { rig.invoices.count >= 60 - uninvoiceable }
    let open = try await host.store().records(RecordFilter(unresolvedFailures: true, limit: 20)).map {
      "\($0.outcome): \($0.error ?? "")"
    }
    #expect(landed, "\(rig.invoices.count) invoices; records needing attention:\n\(open.joined(separator: "\n"))")
    try await Task.sleep(nanoseconds: 2_000_000_000)  // let retries still in flight finish
    let references = rig.invoiceReferences
    #expect(references.count == 60 - uninvoiceable)
    #expect(Set(references).count == references.count, "an order was invoiced twice")
    #expect(Set(rig.deliveries.compactMap { $0["YSHOPFUL"] as? String }).count == rig.deliveries.count)
    let injected = rig.sandbox.shopify.faultsInjected + rig.sandbox.x3.faultsInjected
    #expect(injected >= 10, "only \(injected) faults were injected")
    #expect(await host.stop() == 0)
  }

  @Test func aRejectedOrderReplaysOnceTheCustomerExists() async throws {
    let rig = try await Rig.start()
    defer { rig.stop() }
    let host = try await rig.host()
    defer { host.process.kill() }
    let store = try host.store()
    #expect(try await eventually(within: 30) { try await store.stats().unresolvedFailures == 3 })
    let rejected = try await store.records(RecordFilter(unresolvedFailures: true))
    let missing = try #require(rejected.first { $0.error?.contains("nadia.ozdemir@example.net") == true })
    rig.sandbox.x3.addCustomer(code: "C0099", name: "Nadia Özdemir", email: "nadia.ozdemir@example.net")
    let replay = try await MLHostProcess.run(["replay", "\(missing.id)", "--state", rig.state.path])
    #expect(replay.status == 0, "\(replay.stderr)")
    #expect(await eventually(within: 30) { rig.invoices.contains { $0["BPCINV"] as? String == "C0099" } })
    #expect(try await eventually(within: 10) { try await store.stats().unresolvedFailures == 2 })
    #expect(await host.stop() == 0)
  }

  @Test func stockIsSetWithCompareAndSetAndNeverOverwritesASale() async throws {
    let rig = try await Rig.start()
    defer { rig.stop() }
    // A customer buys a mug between the connector's read and its write.
    rig.sandbox.shopify.sellOneAfterNextRead(sku: "MUG-CAFE")
    let run = try await rig.once()
    #expect(run.status == 0, "\(run.stderr)")
    #expect(rig.sandbox.shopify.stats.staleCompares >= 1, "the write did not meet the sale")
    let mug = rig.sandbox.x3.rows("STOCK").first { $0["ITMREF"] as? String == "MUG-CAFE" }
    #expect(rig.sandbox.shopify.available(sku: "MUG-CAFE") == mug?["QTYSTU"] as? Int)
  }

  /// From 2026-04 Shopify refuses inventory mutations without `@idempotent(key:)`: the connector sends a key with
  /// every set, and a repeated key gets the first answer without acting twice.
  @Test func stockLandsOnAPIVersionsThatRequireIdempotencyKeys() async throws {
    let rig = try await Rig.start { options in
      options.shopify.version = "2026-04"
      options.shopify.staticToken = "shpat_test_static"
    }
    defer { rig.stop() }
    let run = try await rig.once(["shopify.api_version": "2026-04"])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("x3.stock: 7 updated\n"), "\(run.stdout)")
    #expect(rig.sandbox.shopify.stats.inventorySets == 7)
    #expect(rig.sandbox.shopify.stats.idempotencyKeys == 7)
    // The same mutation and key twice: the second answer is the first one, and the stock moved once.
    let current = try #require(rig.sandbox.shopify.available(sku: "MUG-CAFE"))
    let item = try #require(rig.sandbox.shopify.inventoryItemID(sku: "MUG-CAFE"))
    func set(_ directive: String) async throws -> String {
      let body = try JSONSerialization.data(withJSONObject: [
        "query":
          "mutation Set($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input)\(directive) "
          + "{ inventoryAdjustmentGroup { reason } userErrors { message code } } }",
        "variables": [
          "input": [
            "name": "available", "reason": "correction",
            "quantities": [
              [
                "inventoryItemId": item, "locationId": "gid://shopify/Location/80000001", "quantity": current + 5,
                "compareQuantity": current,
              ]
            ],
          ]
        ],
      ])
      let r = try await HTTPClient.shared.send(
        MLHostSystems.HTTPRequest(
          method: "POST", url: rig.sandbox.shopifyURL + "/admin/api/2026-04/graphql.json",
          headers: [("Content-Type", "application/json"), ("X-Shopify-Access-Token", "shpat_test_static")],
          body: Array(body))
      ).get()
      return String(decoding: r.body, as: UTF8.self)
    }
    #expect(try await set("").contains("The @idempotent directive is required"))
    let key = #" @idempotent(key: "5e0c9a44-1111-4222-8333-944455556666")"#
    let first = try await set(key)
    let again = try await set(key)
    #expect(first.contains("\"userErrors\":[]") && again.contains("\"userErrors\":[]"), "\(first)\n\(again)")
    #expect(rig.sandbox.shopify.available(sku: "MUG-CAFE") == current + 5)
    #expect(rig.sandbox.shopify.stats.idempotentRepeats == 1)
  }

  @Test func webhookAndPollRacingOnOneOrderMakeOneInvoice() async throws {
    let rig = try await Rig.start()
    defer { rig.stop() }
    let host = try await rig.host()
    defer { host.process.kill() }
    #expect(await eventually(within: 30) { rig.invoices.count == 24 - uninvoiceable })
    rig.sandbox.subscribeOrderWebhooks(base: host.webhookURL, connector: "x3_shopify")
    let seed = SandboxSeed.build(orderCount: 1)
    var names: [String] = []
    for i in 0..<5 {
      names.append(rig.sandbox.shopify.placeOrder(customer: seed.customers[i], lines: [seed.orders[0].lines[0]]))
      // The webhook is on its way; a poll asks for the same order at the same time.
      #expect(try await host.admin("POST", "/trigger/x3_shopify/pull_orders").0 == 200)
    }
    #expect(await eventually(within: 30) { names.allSatisfy { rig.invoiceReferences.contains($0) } })
    try await Task.sleep(nanoseconds: 1_000_000_000)
    let references = rig.invoiceReferences
    #expect(Set(references).count == references.count, "an order was invoiced twice")
    #expect(try await host.store().stats().jobsByState["dead", default: 0] == 0)
    #expect(await host.stop() == 0)
  }
}
