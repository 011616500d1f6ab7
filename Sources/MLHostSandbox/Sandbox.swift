import Foundation
import Hummingbird
import Logging
import MLHostCore
import MLHostSystems

/// The built-in sandbox: simulated Shopify, Sage X3 and Adobe Commerce servers on loopback, each on its own port
/// (its own origin, as the real systems are different hosts), with the credentials a connector needs to reach them.
public final class Sandbox: Sendable {
  public let shopify: ShopifySimulator
  public let x3: X3Simulator
  public let sage300: Sage300Simulator
  public let shopifyURL: String
  public let x3URL: String
  public let woocommerce: WooCommerceSimulator
  public let woocommerceURL: String
  public let sage300URL: String
  /// The simulated Adobe Commerce store, on its own port, and what it started with.
  public let adobe: AdobeCommerceSimulator
  public let adobeURL: String
  public let adobeSeed: AdobeSeed
  /// What both systems started with, and the number it was drawn from (`Options.seed`).
  public let seed: SandboxSeed
  public let seedNumber: UInt64
  /// Opens the control routes (`/sandbox/…`, header `X-MLHost-Sandbox-Token`) of both systems; a secret.
  public let controlToken: String
  private let tasks: [Task<Void, any Error>]

  public struct Options: Sendable {
    public var orders = 24
    public var seed: UInt64 = 7
    /// The data both systems start with; nil: `SandboxSeed.build(orderCount: orders, seed: seed)`.
    public var data: SandboxSeed?
    public var shopify = ShopifySimulator.Config()
    public var x3 = X3Simulator.Config()
    public var woocommerce = WooCommerceSimulator.Config()
    public var sage300 = Sage300Simulator.Config()
    public var adobe = AdobeCommerceSimulator.Config()

    public init() {}

    /// The same faults for both systems (each shows the kinds its real counterpart shows).
    public mutating func inject(_ faults: Faults) {
      shopify.faults = faults
      x3.faults = Faults(
        rate: faults.rate, latency: faults.latency, slowDelay: faults.slowDelay, seed: faults.seed &+ 1)
      woocommerce.faults = Faults(
        rate: faults.rate, latency: faults.latency, slowDelay: faults.slowDelay, seed: faults.seed &+ 2)
      adobe.faults = Faults(
        rate: faults.rate, latency: faults.latency, slowDelay: faults.slowDelay, seed: faults.seed &+ 3)
      sage300.faults = Faults(
        rate: faults.rate, latency: faults.latency, slowDelay: faults.slowDelay, seed: faults.seed &+ 4)
    }
  }

  private init(
    shopify: ShopifySimulator, x3: X3Simulator, shopifyURL: String, x3URL: String, woocommerce: WooCommerceSimulator,
    woocommerceURL: String, sage300: Sage300Simulator, sage300URL: String, seed: SandboxSeed, seedNumber: UInt64,
    controlToken: String, tasks: [Task<Void, any Error>], adobe: AdobeCommerceSimulator, adobeURL: String,
    adobeSeed: AdobeSeed
  ) {
    self.woocommerce = woocommerce
    self.woocommerceURL = woocommerceURL
    self.adobe = adobe
    self.adobeURL = adobeURL
    self.adobeSeed = adobeSeed
    self.seed = seed
    self.seedNumber = seedNumber
    self.controlToken = controlToken
    self.shopify = shopify
    self.x3 = x3
    self.shopifyURL = shopifyURL
    self.x3URL = x3URL
    self.sage300 = sage300
    self.sage300URL = sage300URL
    self.tasks = tasks
  }

  public static func start(_ options: Options = Options(), host: String = "127.0.0.1", logger: Logger) async throws
    -> Sandbox
  {
    let seed = options.data ?? SandboxSeed.build(orderCount: options.orders, seed: options.seed)
    let shopify = ShopifySimulator(config: options.shopify, seed: seed)
    let x3 = X3Simulator(config: options.x3, seed: seed)
    let adobeSeed = AdobeSeed.build(orderCount: options.data?.orders.count ?? options.orders, seed: options.seed)
    x3.seedPurchasing(adobeSeed)
    let adobe = AdobeCommerceSimulator(config: options.adobe, seed: adobeSeed)
    let token = ByteCodecs.base64(Digest.randomBytes(24), urlSafe: true, padded: false)
    let shopRouter = Router()
    shopify.routes(shopRouter, control: token)
    let x3Router = Router()
    x3.routes(x3Router, control: token)
    let (shopPort, shopTask) = try await serve(shopRouter, host: host, logger: logger)
    let (x3Port, x3Task) = try await serve(x3Router, host: host, logger: logger)
    let woo = WooCommerceSimulator(config: options.woocommerce, seed: seed)
    let wooRouter = Router()
    woo.routes(wooRouter, control: token)
    let (wooPort, wooTask) = try await serve(wooRouter, host: host, logger: logger)
    woo.homeURL = "http://\(host):\(wooPort)"
    let sage300 = Sage300Simulator(config: options.sage300, seed: seed)
    let sage300Router = Router()
    sage300.routes(sage300Router, control: token)
    let (sage300Port, sage300Task) = try await serve(sage300Router, host: host, logger: logger)
    let adobeRouter = Router()
    adobe.routes(adobeRouter, control: token)
    let (adobePort, adobeTask) = try await serve(adobeRouter, host: host, logger: logger)
    return Sandbox(
      shopify: shopify, x3: x3, shopifyURL: "http://\(host):\(shopPort)", x3URL: "http://\(host):\(x3Port)",
      woocommerce: woo, woocommerceURL: woo.homeURL, sage300: sage300, sage300URL: "http://\(host):\(sage300Port)",
      seed: seed, seedNumber: options.seed, controlToken: token,
      tasks: [shopTask, x3Task, wooTask, sage300Task, adobeTask],
      adobe: adobe, adobeURL: "http://\(host):\(adobePort)", adobeSeed: adobeSeed)
  }

  private static func serve(_ router: Router<BasicRequestContext>, host: String, logger: Logger) async throws -> (
    Int, Task<Void, any Error>
  ) {
    let (stream, continuation) = AsyncStream<Int>.makeStream()
    let app = Application(
      router: router, configuration: .init(address: .hostname(host, port: 0), backlog: 1024),
      onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
    // The host decides when the simulated systems stop (after its jobs have finished), not a signal.
    let task = Task { try await app.runService(gracefulShutdownSignals: []) }
    var iterator = stream.makeAsyncIterator()
    guard let port = await iterator.next(), port > 0 else { throw SandboxError("the sandbox server did not start") }
    return (port, task)
  }

  public func stop() { for t in tasks { t.cancel() } }

  /// What the vault needs: Shopify by the client-credentials grant (its token sent as `X-Shopify-Access-Token`),
  /// X3 by the cloud gateway's rotating refresh token (REST or GraphQL), X3's GraphQL connected application
  /// (`<x3>_app`, a host-minted JWT), and the webhook signing secret. Each credential that signs requests is bound
  /// to its own simulator's origin, as a deployment binds it to its real system's.
  public func credentials(
    shopify shopName: String = "shopify", x3 x3Name: String = "x3",
    webhooks: String = "shopify_webhooks"
  ) -> [Credential] {
    woocommerceCredentials() + sage300Credentials + [
      Credential(
        name: shopName, type: .oauth2_client_credentials,
        fields: [
          "token_url": shopifyURL + "/admin/oauth/access_token", "client_id": shopify.config.clientID,
          "client_secret": shopify.config.clientSecret, "token_header": "X-Shopify-Access-Token",
        ], origins: [shopifyURL]),
      Credential(
        name: x3Name, type: .oauth2_refresh_token,
        fields: [
          "token_url": x3URL + "/v1/token", "client_id": x3.config.clientID, "client_secret": x3.config.clientSecret,
          "refresh_token": x3.config.refreshToken,
        ], origins: [x3URL]),
      Credential(name: webhooks, type: .webhook_secret, fields: ["secret": shopify.config.clientSecret]),
      Credential(
        name: x3Name + "_app", type: .x3_jwt,
        fields: [
          "client_id": x3.config.appClientID, "secret": x3.config.appSecret, "user": x3.config.user,
          "endpoint": x3.config.endpoint, "audience": x3.config.appAudience, "lifetime": "300",
        ], origins: [x3URL]),
    ] + adobeCredentials()
  }

  /// The settings that point a connector at the sandbox instead of the real systems (`--set` style paths), every
  /// system's: a connector takes those of the sections its settings have (`ConnectorSource.systemSettings`), a
  /// command line only those of its connector's sections (`settings(for:)`).
  public var settings: [String: String] {
    [
      "shopify.shop_url": shopifyURL, "shopify.credential": "shopify", "shopify.webhook_credential": "shopify_webhooks",
      "x3.url": x3URL, "x3.endpoint": x3.config.endpoint, "x3.credential": "x3",
    ].merging(woocommerceSettings) { a, _ in a }.merging(sage300Settings) { a, _ in a }.merging(adobeSettings) { a, _ in
      a
    }
  }

  /// Points Shopify's order webhooks at `url` (`…/hooks/<connector>/<name>` is appended per topic), as an app's
  /// configured subscriptions would.
  public func subscribeOrderWebhooks(base url: String, connector: String) {
    shopify.state.withLock { s in
      for topic in ["orders/create", "orders/updated"] {
        let uri = "\(url)/hooks/\(connector)/\(topic.replacingOccurrences(of: "/", with: "_"))"
        if !s.subscriptions.contains(where: { $0.topic == topic && $0.uri == uri }) {
          s.subscriptions.append((topic, uri))
        }
      }
    }
  }
}

// MARK: control surface

extension Sandbox {
  /// The systems a fault can be injected into, and the kinds each shows.
  public static var faultKinds: [String: [String]] {
    [
      "shopify": ShopifySimulator.faultKinds.map(\.rawValue), "x3": X3Simulator.faultKinds.map(\.rawValue),
      "woocommerce": WooCommerceSimulator.faultKinds.map(\.rawValue),
      "sage300": Sage300Simulator.faultKinds.map(\.rawValue),
      "adobe": AdobeCommerceSimulator.faultKinds.map(\.rawValue),
    ]
  }

  /// Makes the next `times` requests of `system` ("shopify", "x3" or "adobe") whose target contains `match` meet fault `kind`
  /// (`serverError`, `serverErrorAfterCommit`, `revokedToken`, … — `faultKinds`), after `after` of them pass. A
  /// target is `METHOD /path` for X3 (`POST /api1/x3/erp/SEED/SINVOICE`) and the GraphQL root field for Shopify
  /// (`orders`, `inventorySetQuantities`), `METHOD /V1/path` for Adobe (`POST /V1/order/2/ship`); an empty `match`
  /// takes any request.
  public func inject(fault kind: String, system: String, match: String = "", after: Int = 0, times: Int = 1) throws {
    let plan: FaultPlan
    switch system {
    case "shopify": plan = shopify.plan
    case "x3": plan = x3.plan
    case "woocommerce": plan = woocommerce.plan
    case "sage300": plan = sage300.plan
    case "adobe": plan = adobe.plan
    default: throw SandboxError("no sandbox system '\(system)' (shopify, x3, woocommerce, sage300, adobe)")
    }
    guard let fault = Fault(rawValue: kind), plan.shown.contains(fault) else {
      throw SandboxError(
        "\(system) shows no fault '\(kind)'; it shows \(plan.shown.map(\.rawValue).joined(separator: ", "))")
    }
    plan.script(fault, match: match, skip: after, times: times)
  }

  /// What the systems counted, by name (`shopify.stale_compares`, `x3.faults_injected`…).
  public var counters: [String: Int] {
    let stats = shopify.stats
    let cost = shopify.costStats
    return [
      "shopify.requests": stats.requests, "shopify.inventory_sets": stats.inventorySets,
      "shopify.stale_compares": stats.staleCompares, "shopify.throttled": stats.throttled,
      "shopify.over_ceiling": cost.overCeiling, "shopify.tokens_issued": cost.tokensIssued,
      "shopify.faults_injected": shopify.faultsInjected, "shopify.webhook_subscriptions": shopify.subscriptionCount,
      "x3.requests": x3.requests, "x3.faults_injected": x3.faultsInjected,
    ].merging(woocommerce.counters.map { ("woocommerce." + $0.key, $0.value) }) { a, _ in a }
      .merging(sage300Counters) { a, _ in a }.merging(adobeCounters) { a, _ in a }
  }
}

struct SandboxError: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}
