import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostSandbox
import MLHostStore
import MLHostSystems

/// What one case did: passed, or the differences between what it expected and what happened.
public struct CaseResult: Sendable {
  public struct Difference: Sendable, Codable {
    /// What was checked (`record shopify.order #1003`, `x3 SINVOICE where CUSORDREF=#1001`).
    public var subject: String
    public var expected: String
    public var actual: String
  }

  public var name: String
  public var file: String
  public var description: String
  public var seconds: Double
  public var differences: [Difference]
  /// The case could not run (a bad case file, a connector that does not load, a step that failed).
  public var error: String?

  public var passed: Bool { differences.isEmpty && error == nil }
}

/// Runs connector test cases, each against fresh sandbox systems (simulated Shopify and X3 on loopback, port 0) and
/// a fresh state folder, with the host in this process: `mlhost run --sandbox --once` per step, checked.
public struct CaseRunner: Sendable {
  /// The connector as `mlhost run` would load it (settings file, `--set`, limits); the sandbox's settings and the
  /// case's go on top, and `overrides` (the command line's `--set`) on top of those.
  public var source: ConnectorSource
  public var overrides: [String: LuaValue] = [:]
  public var logger = Logger(label: "mlhost.test") { _ in SwiftLogNoOpLogHandler() }
  /// How long the queue may take to settle after a step.
  public var settleTimeout: Double = 60

  public init(source: ConnectorSource, overrides: [String: LuaValue] = [:]) {
    self.source = source
    self.overrides = overrides
  }

  /// The cases in the connector's package (`connectors/<name>/tests/*.toml`), by name; `only`: just that one.
  public static func cases(of script: URL, only: String? = nil) throws -> [URL] {
    let folder = ConnectorPackage(script: script).testsFolder
    let files = ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
      .filter { $0.pathExtension == "toml" }.sorted { $0.lastPathComponent < $1.lastPathComponent }
    guard !files.isEmpty else { throw HostError.caseFile(folder, "no test cases (*.toml) in \(folder.path)") }
    guard let only else { return files }
    guard let file = files.first(where: { $0.deletingPathExtension().lastPathComponent == only }) else {
      throw HostError.caseFile(
        folder,
        "no case '\(only)'; there are: "
          + files.map { $0.deletingPathExtension().lastPathComponent }.joined(separator: ", "))
    }
    return [file]
  }

  /// Runs the case in `file`.
  public func run(_ file: URL) async -> CaseResult {
    let started = Date()
    var result = CaseResult(
      name: file.deletingPathExtension().lastPathComponent, file: file.path, description: "",
      seconds: 0, differences: [])
    do {
      let c = try ConnectorCase.load(file)
      result.description = c.description
      result.differences = try await run(c)
    } catch {
      result.error = "\(error)"
    }
    result.seconds = Date().timeIntervalSince(started)
    return result
  }

  private func run(_ c: ConnectorCase) async throws -> [CaseResult.Difference] {
    // The simulated systems' servers log their own shutdown as errors: not the connector's concern.
    let sandbox = try await Sandbox.start(try options(for: c), logger: logger.silenced(below: .critical))
    defer { sandbox.stop() }
    try seedAfterStart(c, sandbox)
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-test-\(c.name)-\(Digest.uuid4())")
    defer { try? FileManager.default.removeItem(at: state) }
    let world = try await World.open(state: state, sandbox: sandbox, logger: logger)
    var source = self.source
    source.systemSettings = sandbox.settings.mapValues { LuaValue.text($0) }
    source.overrides = source.overrides.merging(c.settings) { _, s in s }.merging(overrides) { _, s in s }
    do {
      try await world.host.start([source])
    } catch {
      await world.close()
      throw HostError.caseFile(c.file, "the connector did not load: \(error)")
    }
    world.connectWooCommerce()
    let dispatcher = Task { await world.host.runDispatcher() }
    // By its definition: the route table names only connectors that take webhooks.
    let connector = await world.host.definitions.first?.name ?? world.connector
    do {
      for (i, step) in c.steps.enumerated() {
        do {
          try await world.perform(step, connector: connector)
        } catch {
          throw HostError.caseFile(c.file, "steps[\(i + 1)] (\(step.line)): \(error)")
        }
        try await world.settle(timeout: settleTimeout)
      }
      let differences = try await CaseCheck(world: world, expect: c.expect, connector: connector).differences()
      dispatcher.cancel()
      await world.close()
      return differences
    } catch {
      dispatcher.cancel()
      await world.close()
      throw error
    }
  }

  /// The sandbox's options: the default seed's first orders plus the case's own, and the installation's names.
  private func options(for c: ConnectorCase) throws -> Sandbox.Options {
    var options = Sandbox.Options()
    var data = SandboxSeed.build(orderCount: c.seed.orders)
    let start = Date().timeIntervalSince1970.rounded(.down) - 3_600
    for (i, o) in c.seed.extraOrders.enumerated() {
      let known = data.customers.first { $0.email.lowercased() == o.customer.email.lowercased() }
      let customer =
        known
        ?? SandboxSeed.Customer(
          first: o.customer.first ?? "Test", last: o.customer.last ?? "Customer",
          email: o.customer.email)
      let lines = try o.lines.map { l -> SandboxSeed.Line in
        guard let product = data.products.first(where: { $0.sku == l.sku }) else {
          throw HostError.caseFile(
            c.file,
            "seed.order[\(i + 1)]: no product with SKU \(l.sku) in the sandbox's catalogue ("
              + data.products.map(\.sku).joined(separator: ", ") + ")")
        }
        return SandboxSeed.Line(product: product, quantity: l.quantity)
      }
      var shipping: ExactDecimal?
      if let text = o.shipping {
        guard let amount = ExactDecimal(text) else {
          throw HostError.caseFile(c.file, "seed.order[\(i + 1)].shipping: a decimal expected, got \(text)")
        }
        shipping = amount
      }
      let number = (data.orders.map(\.number).max() ?? 1000) + 1
      data.orders.append(
        SandboxSeed.Order(
          number: number, customer: customer, lines: lines, createdAt: start + Double(i),
          financialStatus: o.financialStatus,
          fulfilled: o.fulfilled, cancelled: o.cancelled, shipping: shipping, usSalesTax: o.usSalesTax))
    }
    options.data = data
    if let version = c.seed.shopifyAPIVersion { options.shopify.version = version }
    if let version = c.seed.adobeVersion { options.adobe.version = version }
    options.adobe.storeViewsRoute = c.seed.adobeStoreViews
    options.sage300.anyFilter = c.seed.sage300AnyFilter
    options.sage300.distributionCodes = c.seed.sage300DistributionCodes
    for (key, value) in c.seed.x3Names {
      switch key {
      case "invoice_lines": options.x3.names.invoiceLines = value
      case "delivery_lines": options.x3.names.deliveryLines = value
      case "tax_level": options.x3.names.taxLevel = value
      default: options.x3.names.origin = value
      }
    }
    return options
  }

  /// Seed changes made through the systems' control surface once they run.
  private func seedAfterStart(_ c: ConnectorCase, _ sandbox: Sandbox) throws {
    for customer in c.seed.x3Customers {
      sandbox.x3.addCustomer(code: customer.code ?? "", name: customer.first ?? customer.email, email: customer.email)
    }
    for email in c.seed.x3RemoveCustomers where sandbox.x3.removeCustomer(email: email) == 0 {
      throw HostError.caseFile(c.file, "seed.x3_remove_customers: X3 has no customer with email \(email)")
    }
    for (item, quantity) in c.seed.x3Stock { sandbox.x3.setStock(item: item, quantity: quantity) }
    for (sku, quantity) in c.seed.shopifyAvailable { sandbox.shopify.setAvailable(sku: sku, quantity) }
  }
}

/// One case's running world: the sandbox, the state folder, the host in this process and its webhook ingress.
struct World: Sendable {
  let sandbox: Sandbox
  let store: SQLiteStore
  let host: ConnectorHost
  let ingress: WebhookIngress

  var connector: String { host.routes.connectors.first ?? "" }

  static func open(state: URL, sandbox: Sandbox, logger: Logger) async throws -> World {
    let store = try SQLiteStore(directory: state)
    let vault = try CredentialVault(directory: state)
    for credential in sandbox.credentials() { try vault.set(credential) }
    try vault.registerSecrets()
    var options = HostOptions(grace: 5, watch: false, concurrency: 16)
    // Failed records and jobs are retried within the case, not minutes later.
    options.retry = RetryPolicy(base: 0.05, cap: 0.4, maxAttempts: 5)
    options.pollInterval = 0.05
    let host = ConnectorHost(
      store: store, logger: logger, options: options,
      authenticator: Authenticator(vault: vault, now: options.now))
    return World(
      sandbox: sandbox, store: store, host: host, ingress: WebhookIngress(host: host, vault: vault, logger: logger))
  }

  func close() async { await host.shutdown() }

  /// Waits until no job is queued or running (retries included).
  func settle(timeout: Double) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      // Deliveries first: one that lands after the queue was read would leave a job behind.
      let delivering = sandbox.woocommerce.deliveriesInFlight > 0
      let jobs = try await store.stats().jobsByState
      if jobs["queued", default: 0] + jobs["running", default: 0] == 0 && !delivering { return }
      guard Date() < deadline else {
        throw HostError.caseFile(
          URL(fileURLWithPath: "queue"), "jobs still queued or running after \(Int(timeout)) s: \(jobs)")
      }
      try await Task.sleep(nanoseconds: 20_000_000)
    }
  }

  func perform(_ step: ConnectorCase.Step, connector: String) async throws {
    let a = step.arguments
    func text(_ key: String) throws -> String {
      guard let v = a[key].flatMap(CaseValue.text) else { throw CaseValue.Problem("\(key) expected") }
      return v
    }
    func int(_ key: String) throws -> Int { try CaseValue.int(a[key] ?? .nil_, key) }
    if try performSage300(step) { return }
    switch step.action {
    case "poll":
      _ = try await host.runCycle()
    case "run":
      let input = try a["input"].map { try CaseValue.string($0, "input") }
      if let input, !JSONScan.isJSON(input) { throw CaseValue.Problem("input: JSON expected, got \(input.prefix(80))") }
      _ = try await host.run(connector: connector, job: try text("job"), input: input)
    case "webhook":
      try await deliver(try text("topic"), order: try text("order"), connector: connector)
    case "race":
      let (topic, order) = (try text("topic"), try text("order"))
      async let hook: Void = deliver(topic, order: order, connector: connector)
      async let cycle = host.runCycle()
      _ = try await (hook, cycle)
    case "replay":
      for r in try await store.records(RecordFilter(connector: connector, unresolvedFailures: true, limit: 100_000)) {
        _ = try await host.replay(recordID: r.id)
      }
    case "x3_add_customer":
      let code = try text("code")
      sandbox.x3.addCustomer(code: code, name: (try? text("name")) ?? code, email: try text("email"))
    case "x3_remove_customer":
      let email = try text("email")
      guard sandbox.x3.removeCustomer(email: email) > 0 else {
        throw CaseValue.Problem("X3 has no customer with email \(email)")
      }
    case "x3_set_stock":
      sandbox.x3.setStock(item: try text("item"), quantity: try int("quantity"))
    case "x3_set_enabled":
      let (cls, code) = (try text("class"), try text("code"))
      let enabled = try CaseValue.bool(a["enabled"] ?? .nil_, "enabled")
      guard sandbox.x3.setEnabled(cls, code: code, enabled) else {
        throw CaseValue.Problem("X3 has no \(cls) \(code) with an enabled flag")
      }
    case "shopify_change_order":
      let order = try text("order")
      var change: [String: Any] = [:]
      if let f = a["financial_status"].flatMap(CaseValue.text) { change["financial_status"] = f }
      for flag in ["cancel", "fulfill", "refund_shipping"] where a[flag] != nil {
        change[flag] = try CaseValue.bool(a[flag]!, flag)
      }
      if let lines = a["refund"] {
        change["refund"] = try CaseValue.list(lines, "refund").enumerated().map { i, line in
          let path = "refund[\(i + 1)]"
          let l = try CaseValue.table(line, path, keys: ["sku", "quantity"])
          return (
            sku: try CaseValue.string(l["sku"] ?? .nil_, path + ".sku"),
            quantity: try CaseValue.int(l["quantity"] ?? .nil_, path + ".quantity")
          )
        }
      }
      guard sandbox.shopify.change(order: order, change) else {
        throw CaseValue.Problem("no order \(order), or a refund it cannot take")
      }
    case "shopify_set_available":
      sandbox.shopify.setAvailable(sku: try text("sku"), try int("quantity"))
    case "shopify_sell_after_read":
      sandbox.shopify.sellOneAfterNextRead(sku: try text("sku"))
    case let woo where woo.hasPrefix("woo_"):
      try await performWooCommerce(step, connector: connector)
    case let action where ConnectorCase.adobeActions[action] != nil:
      try await performAdobe(step, connector: connector)
    default:  // "fault"; the actions were checked when the case was read
      let after = a["after"] == nil ? 0 : try int("after")
      let times = a["times"] == nil ? 1 : try int("times")
      try sandbox.inject(
        fault: try text("kind"), system: try text("system"), match: (try? text("match")) ?? "",
        after: after, times: times)
    }
  }

  /// Delivers order `order`'s webhook on `topic` to the connector, as the receiver would (signature checked).
  private func deliver(_ topic: String, order: String, connector: String) async throws {
    guard let delivery = sandbox.shopify.delivery(topic: topic, order: order) else {
      throw CaseValue.Problem("no order \(order)")
    }
    let headers = Dictionary(delivery.headers.map { ($0.0.lowercased(), $0.1) }) { _, last in last }
    let answer = await ingress.receive(
      connector: connector, name: topic.replacingOccurrences(of: "/", with: "_"),
      headers: headers, body: delivery.body)
    guard answer.status == 200 else {
      throw CaseValue.Problem("the webhook was answered \(answer.status): \(answer.message)")
    }
  }
}

extension CaseValue.Problem: CustomStringConvertible {
  var description: String { message }
}
