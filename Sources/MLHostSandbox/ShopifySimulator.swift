import Foundation
import Hummingbird
import MLHostCore
import MLHostSystems
import Synchronization

/// A Shopify store behind the Admin GraphQL API, following the API facts: `X-Shopify-Access-Token` (static, or
/// issued by the client-credentials grant with an expiry), the calculated-cost leaky bucket with THROTTLED inside
/// a 200, `first` ≤ 250 cursor paging sorted by `updatedAt`, `updated_at:>=` search, `inventorySetQuantities` with
/// `compareQuantity`, and webhooks signed with the app's client secret. The GraphQL "parser" recognises each
/// operation by its root field and answers the full node; it does not trim to the selection set.
public final class ShopifySimulator: Sendable {
  public struct Config: Sendable {
    public var version = "2025-01"
    public var shopDomain = "mlhost-sandbox.myshopify.com"
    public var clientID = "sandbox-shopify-app"
    /// Verifies the client-credentials grant and signs webhooks.
    public var clientSecret = "shpss_sandbox_" + UUID().uuidString.prefix(8).lowercased()
    /// A static admin token that never expires (legacy custom app), in addition to issued ones.
    public var staticToken: String?
    public var tokenLifetime: Double = 86_399
    public var bucketSize: Double = 2000
    public var restoreRate: Double = 100
    /// The first API version whose `WebhookSubscriptionInput` takes `uri`; earlier ones take `callbackUrl` (API facts
    /// §1.7: 2025-01 takes `callbackUrl`, `uri` is newer).
    public var webhookURISince = "2025-04"
    /// How much dearer than the documented rule this store prices queries (1: exactly the rule). Shopify's own
    /// figure is only ≈ the rule, so a client must learn it from `requestedQueryCost`.
    public var costFactor: Double = 1
    public var faults = Faults()

    public init() {}
  }

  struct State {
    var orders: [Int64: ShopifyOrder] = [:]
    var items: [String: ShopifyInventoryItem] = [:]
    var locations: [(id: Int64, name: String)] = []
    var subscriptions: [(topic: String, uri: String)] = []
    var available: Double
    var stamp: Double
    var nextID: Int64 = 6_000_000_000_000
    var requests = 0
    var throttled = 0
    var inventorySets = 0
    var staleCompares = 0
    /// SKUs that sell one unit right after their next read: the race compare-and-set exists for.
    var saleAfterRead: Set<String> = []
    /// Answers to mutations sent with `@idempotent(key:)`, by key: a repeat gets the first answer.
    var idempotent: [String: Data] = [:]
    var idempotentRepeats = 0
    /// Queries refused for asking more than the 1000-point ceiling.
    var overCeiling = 0
    /// The largest requested cost admitted, by root field (`orders`, `inventoryItems`…).
    var largestRequested: [String: Double] = [:]
  }

  public let config: Config
  /// What the store sells (the seed's catalogue): new orders are placed from it.
  public let products: [SandboxSeed.Product]
  /// The faults Shopify shows.
  static let faultKinds: [Fault] = [.throttled, .tooMany, .unavailable, .badGateway, .slow, .revokedToken]
  let state: Mutex<State>
  let tokens: IssuedTokens
  let plan: FaultPlan

  public init(config: Config = Config(), seed: SandboxSeed) {
    self.config = config
    products = seed.products
    tokens = IssuedTokens(lifetime: config.tokenLifetime)
    plan = FaultPlan(config.faults, kinds: Self.faultKinds)
    var s = State(available: config.bucketSize, stamp: ProcessInfo.processInfo.systemUptime)
    s.locations = [(80_000_001, SandboxSeed.location), (80_000_002, "Pop-up store Lyon")]
    for (i, p) in seed.products.enumerated() {
      s.items[p.sku] = ShopifyInventoryItem(
        id: 40_000_000 + Int64(i), sku: p.sku, available: [80_000_001: 5 + i * 3, 80_000_002: 2])
    }
    for o in seed.orders { Self.add(o, to: &s) }
    state = Mutex(s)
  }

  @discardableResult
  static func add(_ o: SandboxSeed.Order, to s: inout State) -> Int64 {
    s.nextID += 1
    let id = s.nextID
    var lines: [ShopifyOrder.Line] = []
    func taxes(_ amount: ExactDecimal, _ rate: ExactDecimal, _ title: String) -> [ShopifyOrder.Tax] {
      SandboxSeed.taxes(on: amount, rate: rate, title: title, us: o.usSalesTax).map {
        .init(title: $0.title, rate: $0.rate, amount: $0.amount)
      }
    }
    for l in o.lines {
      s.nextID += 1
      let net = (try? l.product.price.multiplied(by: ExactDecimal(Int64(l.quantity)))) ?? l.product.price
      lines.append(
        .init(
          id: s.nextID, sku: l.product.sku, name: l.product.name, quantity: l.quantity, price: l.product.price,
          taxes: taxes(net, l.product.taxRate, l.product.taxTitle), inventoryItem: s.items[l.product.sku]?.id ?? 0))
    }
    let shipping =
      o.shipping.map {
        [ShopifyOrder.ShippingLine(title: "Standard", price: $0, taxes: taxes($0, dec("0.19"), "MwSt 19%"))]
      } ?? []
    var order = ShopifyOrder(
      id: id, number: o.number, customerID: 7_000_000 + Int64(abs(o.customer.email.hashValue % 100_000)),
      first: o.customer.first,
      last: o.customer.last, email: o.customer.email, createdAt: o.createdAt, updatedAt: o.createdAt,
      cancelledAt: o.cancelled ? o.createdAt + 60 : nil, financialStatus: o.financialStatus, lines: lines,
      shipping: shipping,
      billing: o.customer, countryCode: o.usSalesTax ? "US" : "DE")
    if o.fulfilled {
      s.nextID += 1
      order.fulfillments = [
        .init(
          id: s.nextID, createdAt: o.createdAt + 3600, lines: lines.map { ($0.id, $0.quantity) },
          trackingNumber: "JD0146\(o.number)")
      ]
      order.updatedAt = o.createdAt + 3600
    }
    s.orders[id] = order
    return id
  }

  // MARK: routes

  /// The API routes, and with a `control` token the sandbox's control routes.
  public func routes(_ router: Router<BasicRequestContext>, control: String? = nil) {
    router.post("/admin/oauth/access_token") { [self] request, _ -> Response in
      let f = try await SimJSON.fields(request)
      guard f["grant_type"] == "client_credentials", f["client_id"] == config.clientID,
        f["client_secret"] == config.clientSecret
      else {
        return SimJSON.response(
          ["error": "invalid_client", "error_description": "Client credentials are invalid"], status: .badRequest)
      }
      return SimJSON.response([
        "access_token": tokens.issue(prefix: "shpat_"),
        "scope": "read_all_orders,read_orders,write_inventory,read_locations",
        "expires_in": Int(config.tokenLifetime),
      ])
    }
    router.post("/admin/api/{version}/graphql.json") { [self] request, context -> Response in
      await plan.delay()
      guard context.parameters.get("version") == config.version else {
        return SimJSON.response(["errors": "Not Found"], status: .notFound)
      }
      let token = request.headers[.init("X-Shopify-Access-Token")!] ?? ""
      guard token == config.staticToken || tokens.valid(token) else {
        return SimJSON.response(
          ["errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"],
          status: .unauthorized, headers: [.wwwAuthenticate: #"Basic Realm="Shopify API Authentication""#])
      }
      let body = try await SimJSON.parse(request)
      let fault = plan.draw(Self.operation(body["query"] as? String ?? "") ?? "")
      switch fault {
      case .tooMany?:
        return SimJSON.response(
          [
            "errors":
              "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
          ], status: .tooManyRequests, headers: [.retryAfter: "1"])
      case .unavailable?: return SimJSON.response(["errors": "Service Unavailable"], status: .serviceUnavailable)
      case .badGateway?: return SimJSON.response(["errors": "Bad Gateway"], status: .badGateway)
      case .revokedToken?:
        tokens.revoke(token)
        return SimJSON.response(
          ["errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"],
          status: .unauthorized)
      default: break
      }
      let answer = graphQL(
        query: body["query"] as? String ?? "", variables: body["variables"] as? [String: Any] ?? [:],
        forceThrottle: fault == .throttled)
      if fault == .slow { await plan.holdSlow() }
      return SimJSON.response(data: answer)
    }
    controlRoutes(router, token: control)
  }

  /// The sandbox's control routes for the store (see `SandboxControl`): new orders, merchant changes, counts.
  private func controlRoutes(_ router: Router<BasicRequestContext>, token: String?) {
    SandboxControl.route(router, .post, "/sandbox/shopify/orders", token: token) { [self] request, _ in
      let body = try await SimJSON.parse(request)
      guard let email = body["email"] as? String, email.contains("@"), let sku = body["sku"] as? String else {
        return SandboxControl.refuse("email and sku expected")
      }
      let quantity = body["quantity"] as? Int ?? 1
      guard quantity > 0 else { return SandboxControl.refuse("quantity must be 1 or more") }
      guard let product = products.first(where: { $0.sku == sku }) else {
        return SandboxControl.refuse(
          "the store sells no SKU \(sku); it sells \(products.map(\.sku).joined(separator: ", "))", status: .notFound)
      }
      let name = placeOrder(
        customer: customer(email: email), lines: [.init(product: product, quantity: quantity)],
        financialStatus: (body["financial_status"] as? String ?? "paid").uppercased())
      return SimJSON.response([
        "name": name, "id": orderID(name: name) ?? "", "delivered_to": subscriptions(topic: "orders/create").count,
      ])
    }
    SandboxControl.route(router, .post, "/sandbox/shopify/orders/{number}", token: token) { [self] request, context in
      let change = try await SimJSON.parse(request)
      guard let number = context.parameters.get("number", as: Int.self), let order = update(number: number, change)
      else {
        return SandboxControl.refuse(
          "the store has no order #\(context.parameters.get("number") ?? "")", status: .notFound)
      }
      deliver(topic: "orders/updated", order)
      var answer = order.restResource
      answer["delivered_to"] = subscriptions(topic: "orders/updated").count
      return SimJSON.response(answer)
    }
    SandboxControl.route(router, .post, "/sandbox/shopify/inventory", token: token) { [self] request, _ in
      let change = try await SimJSON.parse(request)
      guard let sku = change["sku"] as? String, let quantity = change["available"] as? Int else {
        return SandboxControl.refuse("sku and available expected")
      }
      setAvailable(sku: sku, quantity)
      return SimJSON.response(["ok": true])
    }
    SandboxControl.route(router, .get, "/sandbox/shopify/status", token: token) { [self] _, _ in
      SimJSON.response(counts)
    }
  }

  // MARK: GraphQL

  /// The JSON answer to one GraphQL request, cost accounting included.
  func graphQL(query: String, variables: [String: Any], forceThrottle: Bool) -> Data {
    let op = Self.operation(query)
    let key = Self.idempotencyKey(query)
    // The directive exists from 2026-01 and is required on the inventory mutations from 2026-04.
    if key != nil, config.version < "2026-01" {
      return SimJSON.data([
        "errors": [["message": "Directive 'idempotent' doesn't exist", "extensions": ["code": "undefinedDirective"]]]
      ])
    }
    if key == nil, op == "inventorySetQuantities", config.version >= "2026-04" {
      return SimJSON.data([
        "errors": [
          [
            "message": "The @idempotent directive is required for this mutation.",
            "extensions": ["code": "BAD_REQUEST"],
          ]
        ]
      ])
    }
    let document: GraphQLDocument
    do {
      document = try GraphQLDocument(ShopifyQueryCost.withoutDirectives(query), variables: variables)
    } catch {
      return SimJSON.data(["errors": [["message": "\(error)", "extensions": ["code": "parseError"]]]])
    }
    let root = document.fields.first
    let first = root.flatMap(ShopifyQueryCost.size) ?? 10
    let lineLimit = ShopifyQueryCost.size(of: "lineItems", in: document.fields) ?? 0
    let shippingLimit = ShopifyQueryCost.size(of: "shippingLines", in: document.fields) ?? 0
    let requested = (Double(ShopifyQueryCost.requested(document)) * config.costFactor).rounded(.up)
    return state.withLock { s -> Data in
      SimJSON.data(
        execute(
          &s, op: op, first: first, limits: (lineLimit, shippingLimit), requested: requested, variables: variables,
          arguments: root?.arguments.mapValues(\.plain) ?? [:], key: key, forceThrottle: forceThrottle
        ) {
          ShopifyQueryCost.actual(document, data: $0)
        })
    }
  }

  /// The key of an `@idempotent(key: "…")` directive in the document.
  static func idempotencyKey(_ query: String) -> String? {
    guard let at = query.range(of: "@idempotent") else { return nil }
    let rest = query[at.upperBound...]
    guard let open = rest.firstIndex(of: "\""), let close = rest[rest.index(after: open)...].firstIndex(of: "\"") else {
      return nil
    }
    return String(rest[rest.index(after: open)..<close])
  }

  private func execute(
    _ s: inout State, op: String?, first: Int, limits: (lines: Int, shipping: Int), requested: Double,
    variables: [String: Any],
    arguments: [String: Any], key: String?, forceThrottle: Bool, actualCost: ([String: Any]) -> Int
  ) -> [String: Any] {
    s.requests += 1
    let now = ProcessInfo.processInfo.systemUptime
    s.available = min(config.bucketSize, s.available + (now - s.stamp) * config.restoreRate)
    s.stamp = now
    func cost(_ actual: Double?) -> [String: Any] {
      [
        "cost": [
          "requestedQueryCost": requested, "actualQueryCost": actual.map { $0 as Any } ?? NSNull(),
          "throttleStatus": [
            "maximumAvailable": config.bucketSize, "currentlyAvailable": Int(s.available),
            "restoreRate": config.restoreRate,
          ],
        ]
      ]
    }
    guard requested <= Double(ShopifyQueryCost.ceiling) else {
      s.overCeiling += 1
      return [
        "errors": [
          [
            "message":
              "Query cost is \(Int(requested)), which exceeds the single query max cost limit (\(ShopifyQueryCost.ceiling)).",
            "extensions": ["code": "MAX_COST_EXCEEDED", "cost": Int(requested), "maxCost": ShopifyQueryCost.ceiling],
          ]
        ],
        "extensions": cost(nil),
      ]
    }
    guard !forceThrottle, s.available >= requested else {
      s.throttled += 1
      return [
        "errors": [
          [
            "message": "Throttled",
            "extensions": ["code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"],
          ]
        ],
        "extensions": cost(nil),
      ]
    }
    s.available -= requested
    s.largestRequested[op ?? "", default: 0] = max(s.largestRequested[op ?? ""] ?? 0, requested)
    let data: [String: Any]
    switch op {
    case "orders":
      guard first <= 250 else {
        s.available += requested
        return [
          "errors": [["message": "first cannot exceed 250", "extensions": ["code": "BAD_REQUEST"]]],
          "extensions": cost(nil),
        ]
      }
      data = [
        "orders": ordersPage(
          &s, first: first, after: variables["after"] as? String,
          query: variables["q"] as? String ?? variables["query"] as? String ?? "", limits: limits)
      ]
    case "inventoryItems":
      data = [
        "inventoryItems": inventoryItems(
          &s, query: variables["query"] as? String ?? variables["q"] as? String ?? "", first: first)
      ]
    case "locations":
      data = [
        "locations": [
          "edges": s.locations.prefix(first).map {
            ["node": ["id": "gid://shopify/Location/\($0.id)", "name": $0.name]]
          }
        ]
      ]
    case "inventoryItem": data = ["inventoryItem": inventoryItem(s, variables)]
    case "inventorySetQuantities":
      if let key, let first = s.idempotent[key],
        let answer = (try? JSONSerialization.jsonObject(with: first)) as? [String: Any]
      {
        s.idempotentRepeats += 1
        data = answer
      } else {
        data = ["inventorySetQuantities": setQuantities(&s, variables["input"] as? [String: Any] ?? [:])]
        if let key { s.idempotent[key] = SimJSON.data(data) }
      }
    case "webhookSubscriptionCreate":
      let answer = subscribe(&s, arguments)
      guard let d = answer["data"] as? [String: Any] else {
        s.available += requested  // refused before it ran: nothing is charged
        return answer.merging(["extensions": cost(nil)]) { a, _ in a }
      }
      data = d
    default:
      return [
        "errors": [
          [
            "message": "Field '\(op ?? "?")' doesn't exist on type 'QueryRoot'",
            "extensions": ["code": "undefinedField"],
          ]
        ]
      ]
    }
    let actual = min(requested, (Double(actualCost(data)) * config.costFactor).rounded(.up))
    s.available = min(config.bucketSize, s.available + requested - actual)  // the unused part is refunded
    return ["data": data, "extensions": cost(actual)]
  }

  /// The root field of the document's operation: the first name inside its outermost selection set.
  static func operation(_ query: String) -> String? {
    guard let open = query.firstIndex(of: "{") else { return nil }
    let name = query[query.index(after: open)...].drop { $0.isWhitespace }.prefix {
      $0.isLetter || $0.isNumber || $0 == "_"
    }
    return name.isEmpty ? nil : String(name)
  }

  /// Orders sorted by (updatedAt, id), filtered by `updated_at:>=`/`:>`/`:<=`/`:<`, after the cursor.
  private func ordersPage(
    _ s: inout State, first: Int, after: String?, query: String, limits: (lines: Int, shipping: Int)
  ) -> [String: Any] {
    var all = s.orders.values.sorted { ($0.updatedAt, $0.id) < ($1.updatedAt, $1.id) }
    // `id:<n>` (search syntax), as a connector asks for one order's details.
    if let r = query.range(of: "id:"), query[..<r.lowerBound].last.map({ !$0.isLetter && $0 != "_" }) ?? true {
      let id = Int64(query[r.upperBound...].prefix { $0.isNumber }) ?? -1
      all = all.filter { $0.id == id }
    }
    for clause in Self.dateClauses(query) {
      all = all.filter { o in
        switch clause.op {
        case ">=": return o.updatedAt >= clause.at
        case ">": return o.updatedAt >= clause.at + 1  // second granularity
        case "<=": return o.updatedAt < clause.at + 1
        default: return o.updatedAt < clause.at
        }
      }
    }
    if let after, let decoded = Data(base64Encoded: after).map({ String(decoding: $0, as: UTF8.self) }) {
      let parts = decoded.split(separator: "|")
      if parts.count == 2, let t = Double(parts[0]), let id = Int64(parts[1]) {
        all = all.filter { ($0.updatedAt, $0.id) > (t, id) }
      }
    }
    let page = Array(all.prefix(first))
    let edges = page.map { o -> [String: Any] in
      [
        "cursor": Data("\(o.updatedAt)|\(o.id)".utf8).base64EncodedString(),
        "node": o.graphQLNode(lineLimit: limits.lines, shippingLimit: limits.shipping),
      ]
    }
    return [
      "edges": edges, "pageInfo": ["hasNextPage": all.count > first, "endCursor": edges.last?["cursor"] ?? NSNull()],
    ]
  }

  /// `updated_at:>='2025-01-01T00:00:00Z'` clauses of a search query.
  static func dateClauses(_ query: String) -> [(op: String, at: Double)] {
    var out: [(op: String, at: Double)] = []
    var rest = Substring(query)
    while let r = rest.range(of: "updated_at:") {
      rest = rest[r.upperBound...]
      let op = String(rest.prefix { "<>=".contains($0) })
      rest = rest.dropFirst(op.count)
      let quoted = rest.first == "'" || rest.first == "\""
      if quoted { rest = rest.dropFirst() }
      let value = rest.prefix { quoted ? ($0 != "'" && $0 != "\"") : $0 != " " }
      if let t = SimTime.parse(String(value)) { out.append((op.isEmpty ? ">=" : op, t)) }
    }
    return out
  }

  private func level(_ item: ShopifyInventoryItem, _ s: State) -> [String: Any] {
    [
      "id": "gid://shopify/InventoryItem/\(item.id)", "sku": item.sku,
      "inventoryLevels": [
        "edges": s.locations.map { loc in
          [
            "node": [
              "location": ["id": "gid://shopify/Location/\(loc.id)", "name": loc.name],
              "quantities": [["name": "available", "quantity": item.available[loc.id] ?? 0]],
            ]
          ]
        }
      ],
    ]
  }

  private func inventoryItems(_ s: inout State, query: String, first: Int) -> [String: Any] {
    let wanted =
      query.hasPrefix("sku:")
      ? String(query.dropFirst(4)).trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) : nil
    let items = s.items.values.filter { wanted == nil || $0.sku == wanted }.sorted { $0.id < $1.id }.prefix(first)
    let answer: [String: Any] = [
      "edges": items.map { ["node": level($0, s)] }, "pageInfo": ["hasNextPage": false, "endCursor": NSNull()],
    ]
    for item in items where s.saleAfterRead.remove(item.sku) != nil {
      s.items[item.sku]?.available[80_000_001, default: 0] -= 1
    }
    return answer
  }

  private func inventoryItem(_ s: State, _ v: [String: Any]) -> Any {
    guard let id = (v["id"] as? String).flatMap(Self.numericID), let item = s.items.values.first(where: { $0.id == id })
    else { return NSNull() }
    return level(item, s)
  }

  static func numericID(_ gid: String) -> Int64? { gid.split(separator: "/").last.flatMap { Int64($0) } }

  /// Absolute quantities guarded by `compareQuantity`: all or nothing, as one adjustment group.
  private func setQuantities(_ s: inout State, _ input: [String: Any]) -> [String: Any] {
    let quantities = input["quantities"] as? [[String: Any]] ?? []
    let ignoreCompare = input["ignoreCompareQuantity"] as? Bool ?? false
    guard input["name"] as? String == "available" || input["name"] as? String == "on_hand", input["reason"] is String
    else {
      return [
        "inventoryAdjustmentGroup": NSNull(),
        "userErrors": [
          ["field": ["input", "name"], "message": "name and reason are required", "code": "INVALID_NAME"]
        ],
      ]
    }
    var changes: [(sku: String, location: Int64, quantity: Int, delta: Int)] = []
    for (i, q) in quantities.enumerated() {
      guard let itemID = (q["inventoryItemId"] as? String).flatMap(Self.numericID),
        let locationID = (q["locationId"] as? String).flatMap(Self.numericID),
        let item = s.items.values.first(where: { $0.id == itemID }), let quantity = q["quantity"] as? Int
      else {
        return [
          "inventoryAdjustmentGroup": NSNull(),
          "userErrors": [
            [
              "field": ["input", "quantities", "\(i)"], "message": "The inventory item or location could not be found",
              "code": "INVALID_INVENTORY_ITEM",
            ]
          ],
        ]
      }
      let current = item.available[locationID] ?? 0
      if !ignoreCompare {
        guard let compare = q["compareQuantity"] as? Int else {
          return [
            "inventoryAdjustmentGroup": NSNull(),
            "userErrors": [
              [
                "field": ["input", "quantities", "\(i)", "compareQuantity"],
                "message": "compareQuantity is required unless ignoreCompareQuantity is true",
                "code": "COMPARE_QUANTITY_REQUIRED",
              ]
            ],
          ]
        }
        guard compare == current else {
          s.staleCompares += 1
          return [
            "inventoryAdjustmentGroup": NSNull(),
            "userErrors": [
              [
                "field": ["input", "quantities", "\(i)", "compareQuantity"],
                "message": "The specified compare quantity does not match the current quantity",
                "code": "COMPARE_QUANTITY_STALE",
              ]
            ],
          ]
        }
      }
      changes.append((item.sku, locationID, quantity, quantity - current))
    }
    for c in changes { s.items[c.sku]?.available[c.location] = c.quantity }
    s.inventorySets += 1
    return [
      "inventoryAdjustmentGroup": [
        "createdAt": SimTime.iso(Date().timeIntervalSince1970), "reason": input["reason"] ?? "correction",
        "referenceDocumentUri": input["referenceDocumentUri"] ?? NSNull(),
        "changes": changes.map { ["name": "available", "delta": $0.delta, "quantityAfterChange": $0.quantity] },
      ], "userErrors": [],
    ]
  }

  /// `webhookSubscriptionCreate(topic:, webhookSubscription:)` with its arguments resolved: the address in the field
  /// this API version has; the other one is refused as the GraphQL schema refuses an unknown input field.
  private func subscribe(_ s: inout State, _ v: [String: Any]) -> [String: Any] {
    let topic = (v["topic"] as? String ?? "").lowercased().replacingOccurrences(of: "_", with: "/")
    let sub = v["webhookSubscription"] as? [String: Any] ?? [:]
    let field = config.version >= config.webhookURISince ? "uri" : "callbackUrl"
    for other in ["uri", "callbackUrl"] where other != field && sub[other] != nil {
      return [
        "errors": [
          [
            "message":
              "Variable $sub of type WebhookSubscriptionInput! was provided invalid value for \(other) (Field is not defined on WebhookSubscriptionInput)",
            "extensions": ["code": "INVALID_VARIABLE"],
          ]
        ]
      ]
    }
    guard let uri = sub[field] as? String, uri.hasPrefix("http") else {
      return [
        "data": [
          "webhookSubscriptionCreate": [
            "webhookSubscription": NSNull(),
            "userErrors": [["field": ["webhookSubscription", field], "message": "Address is invalid"]],
          ]
        ]
      ]
    }
    if !s.subscriptions.contains(where: { $0.topic == topic && $0.uri == uri }) { s.subscriptions.append((topic, uri)) }
    s.nextID += 1
    return [
      "data": [
        "webhookSubscriptionCreate": [
          "webhookSubscription": [
            "id": "gid://shopify/WebhookSubscription/\(s.nextID)", "topic": v["topic"] ?? "", field: uri,
          ], "userErrors": [],
        ]
      ]
    ]
  }

  // MARK: changes made from outside (sandbox control, tests)

  /// Changes an order as the merchant would (`financial_status`, `cancel`, `fulfill`, `refund` with
  /// `refund_shipping`), bumping `updatedAt`; nil when there is no such order or the refund cannot be made.
  func update(number: Int, _ change: [String: Any]) -> ShopifyOrder? {
    state.withLock { s -> ShopifyOrder? in
      guard var o = s.orders.values.first(where: { $0.number == number }) else { return nil }
      let now = max(Date().timeIntervalSince1970.rounded(.down), o.updatedAt + 1)
      if let f = change["financial_status"] as? String { o.financialStatus = f.uppercased() }
      if let lines = change["refund"] as? [(sku: String, quantity: Int)] {
        s.nextID += 1
        guard o.refund(lines, shipping: change["refund_shipping"] as? Bool == true, id: s.nextID, at: now) != nil else {
          return nil
        }
      }
      if change["cancel"] as? Bool == true {
        o.cancelledAt = now
        o.financialStatus = "VOIDED"
      }
      if change["fulfill"] as? Bool == true, o.fulfillments.isEmpty {
        s.nextID += 1
        o.fulfillments = [
          .init(
            id: s.nextID, createdAt: now, lines: o.lines.map { ($0.id, $0.quantity) },
            trackingNumber: "JD0146\(o.number)")
        ]
      }
      o.updatedAt = now
      s.orders[o.id] = o
      return o
    }
  }

  public func setAvailable(sku: String, _ quantity: Int, location: Int64 = 80_000_001) {
    state.withLock { $0.items[sku]?.available[location] = quantity }
  }

  /// The GraphQL id of the inventory item with `sku`.
  public func inventoryItemID(sku: String) -> String? {
    state.withLock { $0.items[sku].map { "gid://shopify/InventoryItem/\($0.id)" } }
  }

  public func available(sku: String, location: Int64 = 80_000_001) -> Int? {
    state.withLock { $0.items[sku]?.available[location] }
  }

  public var stats:
    (
      requests: Int, throttled: Int, inventorySets: Int, staleCompares: Int, orders: Int, idempotencyKeys: Int,
      idempotentRepeats: Int
    )
  {
    state.withLock {
      (
        $0.requests, $0.throttled, $0.inventorySets, $0.staleCompares, $0.orders.count, $0.idempotent.count,
        $0.idempotentRepeats
      )
    }
  }

  /// Queries refused over the cost ceiling, the largest requested cost admitted by root field (`orders`,
  /// `inventoryItems`…), and access tokens issued.
  public var costStats: (overCeiling: Int, largestRequested: [String: Double], tokensIssued: Int) {
    let (over, largest) = state.withLock { ($0.overCeiling, $0.largestRequested) }
    return (over, largest, tokens.issued)
  }

  /// The addresses subscribed to `topic` ("orders/create").
  /// How many webhook subscriptions the store holds, all topics.
  public var subscriptionCount: Int { state.withLock { $0.subscriptions.count } }

  public func subscriptions(topic: String) -> [String] {
    state.withLock { $0.subscriptions.filter { $0.topic == topic }.map(\.uri) }
  }

  /// Order totals by name (#1001), for checking what reached X3 to the cent.
  public var orderTotals: [String: ExactDecimal] {
    state.withLock { s in Dictionary(uniqueKeysWithValues: s.orders.values.map { ($0.name, $0.total) }) }
  }

  /// Names of the orders that have been fulfilled.
  public var fulfilledOrders: Set<String> {
    state.withLock { Set($0.orders.values.filter { !$0.fulfillments.isEmpty }.map(\.name)) }
  }

  public var faultsInjected: Int { plan.injected.withLock { $0.values.reduce(0, +) } }

  /// The next read of `sku`'s inventory is followed by a sale of one unit, before the connector can set it.
  public func sellOneAfterNextRead(sku: String) { _ = state.withLock { $0.saleAfterRead.insert(sku) } }

  /// A new order placed by a seeded customer (orders/create is delivered); answers its name (#number).
  @discardableResult
  public func placeOrder(customer: SandboxSeed.Customer, lines: [SandboxSeed.Line], financialStatus: String = "PAID")
    -> String
  {
    let order = state.withLock { s -> ShopifyOrder in
      let number = (s.orders.values.map(\.number).max() ?? 1000) + 1
      let now = Date().timeIntervalSince1970.rounded(.down)
      let id = Self.add(
        .init(
          number: number, customer: customer, lines: lines, createdAt: now, financialStatus: financialStatus,
          fulfilled: false, cancelled: false), to: &s)
      return s.orders[id]!
    }
    deliver(topic: "orders/create", order)
    return order.name
  }

  /// The buyer with `email` as the store knows them from an earlier order, else a new one named after the address.
  func customer(email: String) -> SandboxSeed.Customer {
    if let o = state.withLock({ $0.orders.values.first { $0.email.lowercased() == email.lowercased() } }) {
      return o.billing
    }
    let parts = email.split(separator: "@")[0].split(separator: ".").map(\.capitalized)
    return SandboxSeed.Customer(
      first: parts.first ?? "Guest", last: parts.dropFirst().joined(separator: " "), email: email)
  }

  /// Orders by state, subscriptions and inventory items, by a name a person reads.
  public var counts: [String: Int] {
    state.withLock { s in
      let orders = Array(s.orders.values)
      return [
        "orders": orders.count, "cancelled": orders.filter { $0.cancelledAt != nil }.count,
        "fulfilled": orders.filter { !$0.fulfillments.isEmpty }.count,
        "paid": orders.filter { $0.cancelledAt == nil && $0.financialStatus == "PAID" }.count,
        "awaiting_payment": orders.filter {
          $0.cancelledAt == nil && ["PENDING", "PARTIALLY_PAID"].contains($0.financialStatus)
        }.count,
        "inventory_items": s.items.count, "webhook_subscriptions": s.subscriptions.count,
      ]
    }
  }

  /// Changes an order as the merchant would (see `update`) and delivers orders/updated.
  public func changeOrder(number: Int, _ change: [String: Any]) {
    if let order = update(number: number, change) { deliver(topic: "orders/updated", order) }
  }

  /// Sends `order` to every subscriber of `topic`, signed as Shopify signs (base64 HMAC-SHA256 of the body).
  func deliver(topic: String, _ order: ShopifyOrder) {
    let targets = state.withLock { $0.subscriptions.filter { $0.topic == topic }.map(\.uri) }
    guard !targets.isEmpty, let delivery = delivery(topic: topic, order) else { return }
    for uri in targets {
      var request = MLHostSystems.HTTPRequest(method: "POST", url: uri, body: delivery.body)
      request.timeout = 5
      request.headers = delivery.headers
      HTTPClient.shared.send(request) { _ in }
    }
  }

  /// The webhook delivery of `order` on `topic` as Shopify sends it: the REST resource, signed (base64
  /// HMAC-SHA256 of the body with the app's client secret), with a fresh webhook id.
  func delivery(topic: String, _ order: ShopifyOrder) -> (headers: [(String, String)], body: [UInt8])? {
    guard let body = try? JSONSerialization.data(withJSONObject: order.restResource, options: [.sortedKeys]) else {
      return nil
    }
    let bytes = Array(body)
    let signature = ByteCodecs.base64(Digest.hmac(.sha256, key: Array(config.clientSecret.utf8), data: bytes))
    return (
      [
        ("Content-Type", "application/json"), ("X-Shopify-Topic", topic), ("X-Shopify-Hmac-Sha256", signature),
        ("X-Shopify-Shop-Domain", config.shopDomain), ("X-Shopify-API-Version", config.version),
        ("X-Shopify-Webhook-Id", UUID().uuidString.lowercased()),
        ("X-Shopify-Event-Id", UUID().uuidString.lowercased()),
        ("X-Shopify-Triggered-At", SimTime.iso(Date().timeIntervalSince1970)),
      ], bytes
    )
  }

  /// The webhook delivery of order `name` (#1001) on `topic` in its current state, for a receiver in this process.
  public func delivery(topic: String, order name: String) -> (headers: [(String, String)], body: [UInt8])? {
    guard let order = state.withLock({ $0.orders.values.first { $0.name == name } }) else { return nil }
    return delivery(topic: topic, order)
  }

  /// The id of order `name` (#1001), as a connector keys its record (`legacyResourceId`).
  public func orderID(name: String) -> String? {
    state.withLock { $0.orders.values.first { $0.name == name }.map { String($0.id) } }
  }

  /// Changes order `name` (#1001) as the merchant would (see `update`); answers false when there is no such order.
  /// Nothing is delivered: a receiver in this process takes `delivery(topic:order:)`.
  public func change(order name: String, _ change: [String: Any]) -> Bool {
    guard let number = Int(name.drop { $0 == "#" }) else { return false }
    return update(number: number, change) != nil
  }
}
