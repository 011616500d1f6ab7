import Foundation
import Hummingbird
import MLHostCore
import MLHostSystems
import Synchronization

/// A value behind a lock. The store's resources are JSON-shaped dictionaries (`[String: Any]`), which a `Mutex`
/// would have to prove sendable on every access; they never leave the lock except as copies.
final class Guarded<Value>: @unchecked Sendable {
  private var value: Value
  private let lock = NSLock()

  init(_ value: Value) { self.value = value }

  func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
    lock.lock()
    defer { lock.unlock() }
    return try body(&value)
  }
}

/// An Adobe Commerce (Magento 2.4) store behind its REST API, following the API facts §3: `/rest/V1` and
/// `/rest/<store_code>/V1` (also under `/index.php`), OAuth 1.0a integrations checked to the letter (HMAC-SHA256
/// only unless the store is configured as ≤ 2.4.3, nonces never reused, timestamps within a window), admin tokens
/// from `/V1/integration/admin/token` (4 h), integration tokens as bearers only when the store allows it,
/// `searchCriteria` searches, orders with configurable parent/child rows, invoices and shipments that refuse more
/// than is left, customers and products per store view, and Magento's templated error bodies.
public final class AdobeCommerceSimulator: @unchecked Sendable {
  public struct Config: Sendable {
    /// The Magento version it behaves as: below 2.4 a page past the end repeats the last page; up to 2.4.3
    /// HMAC-SHA1 signatures are accepted.
    public var version = "2.4.6"
    public var consumerKey = "ck" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(30).lowercased()
    public var consumerSecret = "cs" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(30).lowercased()
    public var accessToken = "at" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(30).lowercased()
    public var accessTokenSecret =
      "ts" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(30).lowercased()
    /// The integration's consumer id, as error messages name it.
    public var consumerID = 1
    public var adminUser = "mlhost-admin"
    public var adminPassword = "sandbox-" + UUID().uuidString.prefix(8).lowercased()
    /// Admin token lifetime (Magento's `oauth/access_token_lifetime/admin`, 4 h).
    public var adminTokenLifetime: Double = 4 * 3600
    /// "Allow OAuth Access Tokens to be used as standalone Bearer tokens" (off by default since 2.4.4).
    public var integrationAsBearer = false
    /// How far an `oauth_timestamp` may be from the store's clock, in seconds.
    public var timestampWindow: Double = 600
    /// Web API input limits (Stores > Config > Services > Web Api Limits): off by default; when on, at most 300
    /// per page and 20 by default.
    public var inputLimits = false
    /// Whether `GET /V1/store/storeViews` is served: the API facts do not list it, so a store built from them
    /// answers 404 and a connector must be able to do without it.
    public var storeViewsRoute = true
    /// Adobe I/O Events: the integration's client id deliveries name, and the provider.
    public var ioClientID = "sandbox-io-client"
    public var ioProviderID = UUID().uuidString.lowercased()
    public var faults = Faults()

    public init() {}

    /// Whether `version` is below `other` (dotted numbers).
    func before(_ other: String) -> Bool {
      let a = version.split(separator: ".").map { Int($0) ?? 0 }
      let b = other.split(separator: ".").map { Int($0) ?? 0 }
      for i in 0..<max(a.count, b.count) {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        if x != y { return x < y }
      }
      return false
    }
  }

  struct State {
    var stores: [AdobeSeed.Store]
    var products: [String: AdobeSeed.Product] = [:]
    var customers: [Int: [String: Any]] = [:]
    var orders: [Int: [String: Any]] = [:]
    var invoices: [Int: [String: Any]] = [:]
    var shipments: [Int: [String: Any]] = [:]
    var nonces: Set<String> = []
    var subscriptions: [(url: String, io: Bool)] = []
    var nextID = 1000
    var counters: [String: Int] = [:]
    var lastSigned: (uri: String, authorization: String)?
  }

  public let config: Config
  static let faultKinds: [Fault] = [
    .throttled, .unavailable, .badGateway, .slow, .revokedToken, .serverError, .serverErrorAfterCommit,
  ]
  let plan: FaultPlan
  let adminTokens: IssuedTokens
  let state: Guarded<State>
  let webhookKey: RSAKeyPair
  /// Adobe I/O Events signs with two keys at once.
  let ioKeys: (RSAKeyPair, RSAKeyPair)

  public init(config: Config = Config(), seed: AdobeSeed) {
    self.config = config
    plan = FaultPlan(config.faults, kinds: Self.faultKinds)
    adminTokens = IssuedTokens(lifetime: config.adminTokenLifetime)
    webhookKey = RSAKeyPair()!
    ioKeys = (RSAKeyPair()!, RSAKeyPair()!)
    var s = State(stores: seed.stores)
    // Every counter exists from the start, so a case can expect one to stay 0.
    for name in [
      "requests", "shipments_created", "ship_refused", "nonce_replays", "stale_timestamps", "bad_signatures",
      "signature_method_refused", "bearer_refused", "admin_tokens_issued", "admin_login_failures", "customers_created",
      "products_created",
    ] { s.counters[name] = 0 }
    for p in seed.products { s.products[p.sku] = p }
    for c in seed.customers {
      s.customers[c.id] = [
        "id": c.id, "email": c.email, "firstname": c.first, "lastname": c.last, "group_id": 1, "store_id": c.storeID,
        "website_id": 1, "created_at": Self.stamp(seed.orders.first?.createdAt ?? 0),
        "updated_at": Self.stamp(seed.orders.first?.createdAt ?? 0),
        "addresses": [] as [Any], "created_in": c.storeID == 2 ? "Vue française" : "Default Store View",
      ]
    }
    for o in seed.orders { s.orders[o.entityID] = Self.orderResource(o, seed: seed, state: &s) }
    state = Guarded(s)
  }

  /// Magento's `YYYY-MM-DD HH:MM:SS`, UTC.
  static func stamp(_ t: Double) -> String {
    let iso = SimTime.iso(t)
    return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(8))
  }

  static func money(_ d: ExactDecimal) -> ExactDecimal { (try? d.rounded(scale: 2, .halfUp)) ?? d }

  /// The order resource of a seeded order: configurable lines as a parent row (with the price) and a child row
  /// (price 0, `parent_item_id` set), totals to the cent.
  static func orderResource(_ o: AdobeSeed.Order, seed: AdobeSeed, state s: inout State) -> [String: Any] {
    let store = seed.stores.first { $0.id == o.storeID }!
    let customer = seed.customers.first { $0.id == o.customer }!
    var items: [Any] = []
    var subtotal = ExactDecimal(0)
    var tax = ExactDecimal(0)
    var qty = 0
    for l in o.lines {
      let p = s.products[l.sku]!
      let price = store.prices[l.sku] ?? p.price
      let row = money((try? price.multiplied(by: ExactDecimal(Int64(l.quantity)))) ?? price)
      let lineTax = money(
        (try? row.multiplied(by: p.taxPercent).divided(by: ExactDecimal(100), scale: 4, .halfUp)) ?? ExactDecimal(0))
      let inclTax = money(
        (try? price.multiplied(by: p.taxPercent).divided(by: ExactDecimal(100), scale: 4, .halfUp).adding(price))
          ?? price)
      s.nextID += 1
      let itemID = s.nextID
      let parent = p.parent.flatMap { s.products[$0] }
      var item: [String: Any] = [
        "item_id": itemID, "order_id": o.entityID, "sku": l.sku, "name": store.names[l.sku] ?? (parent?.name ?? p.name),
        "product_id": parent?.id ?? p.id, "product_type": parent == nil ? "simple" : "configurable",
        "qty_ordered": l.quantity,
        "qty_invoiced": 0, "qty_shipped": 0, "qty_canceled": 0, "qty_refunded": 0, "price": price, "base_price": price,
        "tax_amount": lineTax, "base_tax_amount": lineTax, "tax_percent": p.taxPercent, "row_total": row,
        "base_row_total": row,
        "price_incl_tax": inclTax, "row_total_incl_tax": (try? row.adding(lineTax)) ?? row,
        "discount_amount": ExactDecimal(0),
        "parent_item_id": NSNull(), "store_id": o.storeID,
      ]
      if parent != nil { item["product_options"] = ["info_buyRequest": ["qty": l.quantity]] }
      items.append(item)
      if let parent {
        _ = parent
        s.nextID += 1
        items.append(
          [
            "item_id": s.nextID, "order_id": o.entityID, "sku": l.sku, "name": p.name, "product_id": p.id,
            "product_type": "simple",
            "qty_ordered": l.quantity, "qty_invoiced": 0, "qty_shipped": 0, "qty_canceled": 0, "qty_refunded": 0,
            "price": ExactDecimal(0), "base_price": ExactDecimal(0), "tax_amount": ExactDecimal(0),
            "tax_percent": ExactDecimal(0),
            "row_total": ExactDecimal(0), "base_row_total": ExactDecimal(0), "parent_item_id": itemID,
            "store_id": o.storeID,
          ] as [String: Any])
      }
      subtotal = (try? subtotal.adding(row)) ?? subtotal
      tax = (try? tax.adding(lineTax)) ?? tax
      qty += l.quantity
    }
    let shippingTax = money(
      (try? o.shipping.multiplied(by: ExactDecimal(19)).divided(by: ExactDecimal(100), scale: 4, .halfUp))
        ?? ExactDecimal(0))
    tax = (try? tax.adding(shippingTax)) ?? tax
    let grand = (try? subtotal.adding(o.shipping).adding(tax)) ?? subtotal
    let created = stamp(o.createdAt)
    let address: [String: Any] = [
      "firstname": customer.first, "lastname": customer.last,
      "street": [o.storeID == 2 ? "12 rue de Rivoli" : "Hauptstraße 1"],
      "city": o.storeID == 2 ? "Paris" : "Berlin", "postcode": o.storeID == 2 ? "75004" : "10115",
      "country_id": o.storeID == 2 ? "FR" : "DE",
      "email": customer.email, "telephone": "+33100000000", "address_type": "billing",
    ]
    var payment: [String: Any] = ["method": o.poNumber == nil ? "checkmo" : "purchaseorder", "amount_ordered": grand]
    if let po = o.poNumber { payment["po_number"] = po }
    var shippingAddress = address
    shippingAddress["address_type"] = "shipping"
    var resource: [String: Any] = [
      "entity_id": o.entityID, "increment_id": o.incrementID, "state": "processing", "status": "processing",
      "store_id": o.storeID,
      "store_name": store.name, "created_at": created, "updated_at": created, "customer_id": customer.id,
      "customer_is_guest": 0,
      "customer_email": customer.email, "customer_firstname": customer.first, "customer_lastname": customer.last,
      "base_currency_code": "EUR", "order_currency_code": "EUR", "grand_total": grand, "base_grand_total": grand,
      "subtotal": subtotal, "base_subtotal": subtotal, "tax_amount": tax, "base_tax_amount": tax,
      "shipping_amount": o.shipping,
      "base_shipping_amount": o.shipping, "shipping_tax_amount": shippingTax, "discount_amount": ExactDecimal(0),
      "total_qty_ordered": qty, "total_invoiced": ExactDecimal(0), "items": items, "billing_address": address,
      "payment": payment,
      "extension_attributes": [
        "shipping_assignments": [
          ["shipping": ["method": "flatrate_flatrate", "address": shippingAddress], "items": items]
        ]
      ],
      "status_histories": [] as [Any],
    ]
    // The API facts' order example has no `shipping_tax_amount`: odd orders come without it, as such a store sends.
    if o.entityID % 2 == 1 { resource["shipping_tax_amount"] = nil }
    return resource
  }

  // MARK: routes

  public func routes(_ router: Router<BasicRequestContext>, control: String? = nil) {
    for prefix in ["/rest/**", "/index.php/rest/**"] {
      for method in [HTTPTypes.HTTPRequest.Method.get, .post, .put, .delete] {
        router.on(RouterPath(prefix), method: method) { [self] request, _ -> Response in
          try await handle(request)
        }
      }
    }
    SandboxControl.route(router, .get, "/sandbox/adobe/status", token: control) { [self] _, _ in
      SimJSON.response(counts)
    }
  }

  /// Magento's error body: a template, its parameters (positional or named), and the status.
  static func error(
    _ message: String, _ parameters: Any? = nil, status: HTTPResponse.Status = .badRequest,
    headers: HTTPFields = [:]
  ) -> Response {
    var body: [String: Any] = ["message": message]
    if let parameters { body["parameters"] = parameters }
    return json(body, status: status, headers: headers)
  }

  static func json(_ value: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    SimJSON.response(data: AdobeJSON.data(value), status: status, headers: headers)
  }

  static let notFound = "The entity that was requested doesn't exist. Verify the entity and try again."

  func count(_ name: String, _ by: Int = 1) { state.withLock { $0.counters[name, default: 0] += by } }

  /// Splits `/rest[/<store>]/V1/<route>`: the store code (nil: default) and the route's segments.
  static func route(_ path: String) -> (store: String?, segments: [String])? {
    var parts = path.split(separator: "/", omittingEmptySubsequences: true).map {
      String($0).removingPercentEncoding ?? String($0)
    }
    if parts.first == "index.php" { parts.removeFirst() }
    guard parts.first == "rest" else { return nil }
    parts.removeFirst()
    var store: String?
    if let first = parts.first, first != "V1" {
      store = first
      parts.removeFirst()
    }
    guard parts.first == "V1" else { return nil }
    return (store, Array(parts.dropFirst()))
  }

  private func handle(_ request: Request) async throws -> Response {
    await plan.delay()
    count("requests")
    // Requests that would change the store (the admin-token login is not one): a read-only connector sends none.
    if request.method != .get, !request.uri.path.hasSuffix("/integration/admin/token") { count("writes") }
    guard let (storeCode, segments) = Self.route(request.uri.path) else {
      return Self.error("Request does not match any route.", status: .notFound)
    }
    // The store: `all` is the admin scope, `default` and the views' codes their own; anything else is refused.
    let store: AdobeSeed.Store?
    if let storeCode, storeCode != "all" {
      guard let found = state.withLock({ $0.stores.first { $0.code == storeCode } }) else {
        return Self.error(
          "The store that was requested wasn't found. Verify the store and try again.", status: .notFound)
      }
      store = found
    } else {
      store = storeCode == "all" ? nil : state.withLock { $0.stores.first { $0.code == "default" } }
    }
    var request = request
    let body = try await request.collectBody(upTo: 1 << 22)
    let bytes = Array(buffer: body)
    if request.method == .post, segments == ["integration", "admin", "token"] { return adminToken(bytes) }
    if let refused = authenticate(request) { return refused }
    let target = "\(request.method) /V1/\(segments.joined(separator: "/"))"
    let fault = plan.draw(target)
    switch fault {
    case .throttled?: return Self.error("Too many requests", status: .tooManyRequests)  // Fastly, no Retry-After
    case .unavailable?:
      return Response(
        status: .serviceUnavailable, body: .init(byteBuffer: .init(string: "<html>503 Service Unavailable</html>")))
    case .serverError?: return internalError()
    case .revokedToken?:
      if let bearer = X3Simulator.bearer(request) { adminTokens.revoke(bearer) }
      return Self.error(
        "The consumer isn't authorized to access %resources.", ["resources": "Magento_Sales::sales"],
        status: .unauthorized)
    default: break
    }
    let answer = dispatch(
      request.method, segments, store: store, query: Self.queryPairs(request.uri.query ?? ""), body: bytes)
    switch fault {
    case .badGateway?:
      return Response(status: .badGateway, body: .init(byteBuffer: .init(string: "<html>502 Bad Gateway</html>")))
    case .serverErrorAfterCommit?: return internalError()
    case .slow?: await plan.holdSlow()
    default: break
    }
    return answer
  }

  private func internalError() -> Response {
    let report = "webapi-" + ByteCodecs.hex(Digest.randomBytes(6))
    return Self.error(
      "Internal Error. Details are available in Magento log file. Report ID: %1", [report], status: .internalServerError
    )
  }

  static func queryPairs(_ query: String) -> [(String, String)] {
    query.split(separator: "&").map { pair in
      let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let decode = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
      return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
    }
  }

  // MARK: dispatch

  private func dispatch(
    _ method: HTTPTypes.HTTPRequest.Method, _ s: [String], store: AdobeSeed.Store?, query: [(String, String)],
    body: [UInt8]
  ) -> Response {
    let object = { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
    switch (method, s.count, s.first ?? "") {
    case (.get, 1, "orders"): return search(query) { $0.orders.values.map { $0 } }
    case (.get, 2, "orders"):
      guard let id = Int(s[1]), let o = state.withLock({ $0.orders[id] }) else {
        return Self.error(Self.notFound, status: .notFound)
      }
      return Self.json(o)
    case (.post, 3, "order") where s[2] == "ship": return ship(Int(s[1]), object())
    case (.post, 3, "order") where s[2] == "invoice": return invoice(Int(s[1]), object())
    case (.get, 1, "invoices"): return search(query) { $0.invoices.values.map { $0 } }
    case (.get, 2, "invoices"):
      guard let id = Int(s[1]), let i = state.withLock({ $0.invoices[id] }) else {
        return Self.error(Self.notFound, status: .notFound)
      }
      return Self.json(i)
    case (.get, 1, "shipments"): return search(query) { $0.shipments.values.map { $0 } }
    case (.get, 2, "shipment"):
      guard let id = Int(s[1]), let i = state.withLock({ $0.shipments[id] }) else {
        return Self.error(Self.notFound, status: .notFound)
      }
      return Self.json(i)
    case (.get, 2, "customers") where s[1] == "search": return search(query) { $0.customers.values.map { $0 } }
    case (.get, 2, "customers"):
      guard let id = Int(s[1]), let c = state.withLock({ $0.customers[id] }) else {
        return Self.error(
          "No such entity with %fieldName = %fieldValue", ["fieldName": "customerId", "fieldValue": s[1]],
          status: .notFound)
      }
      return Self.json(c)
    case (.post, 1, "customers"): return createCustomer(object())
    case (.get, 1, "products"):
      return search(query) { st in st.products.values.map { Self.productResource($0, store: store, st.products) } }
    case (.get, 2, "products"):
      guard
        let answer = state.withLock({ st in
          st.products[s[1]].map { Self.productResource($0, store: store, st.products) }
        })
      else {
        return Self.error(
          "The product that was requested doesn't exist. Verify the product and try again.", status: .notFound)
      }
      return Self.json(answer)
    case (.post, 1, "products"): return saveProduct(nil, object(), store: store)
    case (.put, 2, "products"): return saveProduct(s[1], object(), store: store)
    case (.get, 2, "store") where s[1] == "storeViews" && config.storeViewsRoute:
      return Self.json(
        state.withLock {
          $0.stores.map { ["id": $0.id, "code": $0.code, "name": $0.name, "website_id": 1, "store_group_id": 1] }
        })
    default:
      return Self.error("Request does not match any route.", status: .notFound)
    }
  }

  private func search(_ query: [(String, String)], rows: (State) -> [[String: Any]]) -> Response {
    let criteria: AdobeSearchCriteria
    do { criteria = try AdobeSearchCriteria(query) } catch let e as AdobeSearchCriteria.Invalid {
      return Self.error(e.message, e.parameters)
    } catch { return Self.error("\(error)") }
    if config.inputLimits, let size = criteria.pageSize, size > 300 {
      return Self.error("Maximum SearchCriteria pageSize is %max", ["max": 300])
    }
    let all = state.withLock { rows($0) }
    let result = criteria.apply(
      all, repeatLastPage: config.before("2.4.0"), defaultPageSize: config.inputLimits ? 20 : nil)
    var echo = criteria.echo
    if config.version == "2.4.4" { echo["page_size"] = nil }  // magento#35310
    return Self.json(["items": result.page, "search_criteria": echo, "total_count": result.total])
  }

  /// A product as store view `store` shows it (its price and name there), or the default scope's (`all`).
  static func productResource(_ p: AdobeSeed.Product, store: AdobeSeed.Store?, _ products: [String: AdobeSeed.Product])
    -> [String: Any]
  {
    var out: [String: Any] = [
      "id": p.id, "sku": p.sku, "name": store?.names[p.sku] ?? p.name, "price": store?.prices[p.sku] ?? p.price,
      "type_id": p.type, "attribute_set_id": 4, "status": 1, "visibility": p.parent == nil ? 4 : 1,
      "created_at": "2025-01-01 00:00:00", "updated_at": "2025-01-01 00:00:00",
    ]
    if p.type == "configurable" {
      out["extension_attributes"] = ["configurable_product_links": p.children.compactMap { products[$0]?.id }]
    }
    return out
  }

  private func saveProduct(_ sku: String?, _ body: [String: Any], store: AdobeSeed.Store?) -> Response {
    guard let p = body["product"] as? [String: Any] else {
      return Self.error("\"%fieldName\" is required. Enter and try again.", ["fieldName": "product"])
    }
    guard let given = (p["sku"] as? String) ?? sku, !given.isEmpty else {
      return Self.error("\"%fieldName\" is required. Enter and try again.", ["fieldName": "sku"])
    }
    let price = (p["price"] as? NSNumber).flatMap { ExactDecimal($0.stringValue) }
    let name = p["name"] as? String
    let saved: [String: Any]? = state.withLock { s in
      if var existing = s.products[given] {
        if let storeIndex = store.flatMap({ st in s.stores.firstIndex { $0.id == st.id } }), store?.code != "default" {
          if let price { s.stores[storeIndex].prices[given] = price }
          if let name { s.stores[storeIndex].names[given] = name }
        } else {
          if let price { existing.price = price }
          if let name { existing.name = name }
          s.products[given] = existing
        }
        let view = store.flatMap { st in s.stores.first { $0.id == st.id } }
        return Self.productResource(s.products[given]!, store: view, s.products)
      }
      guard let name, let price else { return nil }
      s.nextID += 1
      let product = AdobeSeed.Product(
        id: s.nextID, sku: given, name: name, type: p["type_id"] as? String ?? "simple", price: price,
        taxPercent: ExactDecimal(19))
      s.products[given] = product
      s.counters["products_created", default: 0] += 1
      return Self.productResource(product, store: nil, s.products)
    }
    guard let saved else {
      return Self.error("The value of attribute \"%1\" must be set.", [name == nil ? "name" : "price"])
    }
    return Self.json(saved)
  }

  private func createCustomer(_ body: [String: Any]) -> Response {
    guard let c = body["customer"] as? [String: Any] else {
      return Self.error("\"%fieldName\" is required. Enter and try again.", ["fieldName": "customer"])
    }
    for field in ["email", "firstname", "lastname"] where ((c[field] as? String) ?? "").isEmpty {
      return Self.error("\"%fieldName\" is required. Enter and try again.", ["fieldName": field])
    }
    let website = (c["website_id"] as? Int) ?? 1
    let created: [String: Any]? = state.withLock { s in
      let email = (c["email"] as! String).lowercased()
      if s.customers.values.contains(where: {
        "\($0["email"]!)".lowercased() == email && ($0["website_id"] as? Int) == website
      }) {
        return nil
      }
      s.nextID += 1
      let now = Self.stamp(Date().timeIntervalSince1970)
      let row: [String: Any] = [
        "id": s.nextID, "email": c["email"]!, "firstname": c["firstname"]!, "lastname": c["lastname"]!,
        "group_id": c["group_id"] ?? 1,
        "store_id": c["store_id"] ?? 1, "website_id": website, "created_at": now, "updated_at": now,
        "addresses": [] as [Any],
      ]
      s.customers[s.nextID] = row
      s.counters["customers_created", default: 0] += 1
      return row
    }
    guard let created else {
      return Self.error("A customer with the same email address already exists in an associated website.")
    }
    return Self.json(created)
  }

  // MARK: for tests, the sandbox and summaries

  /// The order resource of `incrementID`, as GET /V1/orders/{id} answers it.
  public func orderResource(incrementID: String) -> [String: Any]? {
    state.withLock { s in s.orders.values.first { $0["increment_id"] as? String == incrementID } }
  }

  /// Order `incrementID`'s entity id.
  public func orderID(incrementID: String) -> Int? { orderResource(incrementID: incrementID)?["entity_id"] as? Int }

  /// The shipments of order `incrementID`.
  public func shipments(incrementID: String) -> [[String: Any]] {
    guard let id = orderID(incrementID: incrementID) else { return [] }
    return state.withLock { s in s.shipments.values.filter { $0["order_id"] as? Int == id } }
  }

  /// Every shipment the store holds.
  public var allShipments: [[String: Any]] { state.withLock { Array($0.shipments.values) } }

  /// Each order's grand total, by increment id.
  public var orderTotals: [String: ExactDecimal] {
    state.withLock { s in
      Dictionary(
        uniqueKeysWithValues: s.orders.values.map { ("\($0["increment_id"]!)", $0["grand_total"] as! ExactDecimal) })
    }
  }

  /// Quantity shipped of each order row (item id → qty) of order `incrementID`.
  public func shipped(incrementID: String) -> [String: Int] {
    var out: [String: Int] = [:]
    for row in orderResource(incrementID: incrementID)?["items"] as? [[String: Any]] ?? []
    where row["parent_item_id"] is NSNull {
      out["\(row["sku"]!)", default: 0] += row["qty_shipped"] as? Int ?? 0
    }
    return out
  }

  /// Touches order `incrementID` (its `updated_at` becomes now) and, with `fire`, sends its event to the
  /// subscribers, as a merchant's edit would.
  public func touch(incrementID: String, fire: Bool = true, event: String = "observer.sales_order_save_after") {
    state.withLock { s in
      guard let id = s.orders.first(where: { $0.value["increment_id"] as? String == incrementID })?.key else { return }
      s.orders[id]!["updated_at"] = Self.stamp(Date().timeIntervalSince1970)
    }
    if fire { self.fire(event: event, order: incrementID) }
  }

  /// Ships all that is left of order `incrementID`, as a person in the Admin would; false when nothing is left.
  @discardableResult
  public func shipEverything(incrementID: String) -> Bool {
    guard let id = orderID(incrementID: incrementID) else { return false }
    return ship(id, ["comment": ["comment": "shipped in the Admin"]]).status == .ok
  }

  /// The last OAuth-signed GET the store accepted (its path and query, and its Authorization header), to replay.
  public var lastSignedRequest: (uri: String, authorization: String)? { state.withLock { $0.lastSigned } }

  /// The public key a receiver verifies webhooks with (the Admin shows it after "Regenerate key pair").
  public var webhookPublicKey: String { webhookKey.publicPEM }
  public var ioPublicKeys: (String, String) { (ioKeys.0.publicPEM, ioKeys.1.publicPEM) }

  public var counts: [String: Int] {
    state.withLock { s in
      var out = s.counters
      out["orders"] = s.orders.count
      out["shipments"] = s.shipments.count
      out["invoices"] = s.invoices.count
      out["customers"] = s.customers.count
      out["products"] = s.products.count
      out["writes"] = s.counters["writes", default: 0]
      return out
    }
  }

  public var faultsInjected: Int { plan.injected.withLock { $0.values.reduce(0, +) } }
  /// Faults of one kind injected so far (`serverErrorAfterCommit`…).
  public func faultsInjected(_ kind: String) -> Int {
    plan.injected.withLock { s in s.first { $0.key.rawValue == kind }?.value ?? 0 }
  }
}
