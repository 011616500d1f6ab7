import Foundation
import HTTPTypes
import Hummingbird
import MLHostCore
import MLHostSystems

/// A WooCommerce store behind the REST API v3 (`/wp-json/wc/v3`), following the API facts (§2): consumer key
/// authentication (OAuth 1.0a over plain HTTP, Basic or query keys over HTTPS; read-only keys refused writes),
/// `page`/`per_page` ≤ 100 paging with `X-WP-Total`/`X-WP-TotalPages`/`Link`, `modified_after` exclusive, in
/// site-local time unless `dates_are_gmt=true`, money as strings, WordPress error envelopes, customers refused a
/// second account per email, and webhooks (`WooCommerceWebhooks.swift`). No built-in rate limit: throttling comes
/// from the host/CDN in front (429/503), which the fault plan plays.
public final class WooCommerceSimulator: @unchecked Sendable {
  public struct Config: Sendable {
    public var consumerKey = "ck_" + Digest.uuid4().replacingOccurrences(of: "-", with: "")
    public var consumerSecret = "cs_" + Digest.uuid4().replacingOccurrences(of: "-", with: "")
    /// A second key with `read` permission only.
    public var readOnlyKey = "ck_ro_" + Digest.uuid4().replacingOccurrences(of: "-", with: "").prefix(24)
    public var readOnlySecret = "cs_ro_" + Digest.uuid4().replacingOccurrences(of: "-", with: "").prefix(24)
    /// The secret the sandbox's deployment gives its webhooks (a store generates one when none is given).
    public var webhookSecret = "whsec_" + Digest.uuid4().replacingOccurrences(of: "-", with: "")
    /// Whether WordPress sees HTTPS (`is_ssl()`, e.g. behind a TLS proxy): then keys go as Basic or query
    /// parameters, otherwise OAuth 1.0a is required. The sandbox serves plain HTTP on loopback.
    public var https = false
    /// The site's time zone, seconds east of UTC: `date_*` fields and filters without `dates_are_gmt` use it.
    public var utcOffset = 3600
    /// `woocommerce_max_webhook_delivery_failures` (default 5): the failure after the count passes it disables.
    public var maxDeliveryFailures = 5
    public var faults = Faults()

    public init() {}
  }

  public let config: Config
  static let faultKinds: [Fault] = [.tooMany, .unavailable, .badGateway, .slow, .serverError, .serverErrorAfterCommit]
  let plan: FaultPlan
  let lock = NSLock()
  let keys: [APIKey]
  /// Nonces seen in the last 15 minutes, by key and nonce.
  var nonces: [String: Double] = [:]
  var orders: [Int: WooOrder] = [:]
  var customers: [Int: WooCustomer] = [:]
  /// Products by id: (sku, name, price).
  var products: [Int: SandboxSeed.Product] = [:]
  /// Status of products created through the API (`draft`, `private`…); seeded ones are published.
  var productStatus: [Int: String] = [:]
  var webhooks: [Int: Webhook] = [:]
  var nextID = 5000
  /// `scheme://host:port` of this store, set once it listens (`X-WC-Webhook-Source`, OAuth base strings).
  public internal(set) var homeURL = ""
  /// Counters, by name.
  var counted: [String: Int] = [:]
  /// Deliveries sent and not yet answered, for a caller that waits until the store is quiet.
  var inFlight = 0
  /// Deliveries still to fail as if the receiver were down.
  var unreachable = 0
  /// Routes (`POST /orders/batch`) a security plugin or the host blocks: answered 404 `rest_no_route`.
  var blocked: Set<String> = []
  /// How deliveries reach their URL; by default an HTTP POST. A host in the same process (the case runner) takes
  /// them directly. Answers the status, or nil when nothing answered.
  public var transport: @Sendable (_ url: String, _ headers: [(String, String)], _ body: [UInt8]) async -> Int? = {
    url, headers, body in
    var request = MLHostSystems.HTTPRequest(method: "POST", url: url, body: body)
    request.headers = headers
    request.timeout = 60
    if case .success(let r) = await HTTPClient.shared.send(request) { return r.status }
    return nil
  }

  public init(config: Config = Config(), seed: SandboxSeed) {
    self.config = config
    plan = FaultPlan(config.faults, kinds: Self.faultKinds)
    keys = [
      APIKey(key: config.consumerKey, secret: config.consumerSecret, permissions: "read_write"),
      APIKey(key: config.readOnlyKey, secret: config.readOnlySecret, permissions: "read"),
    ]
    var productIDs: [String: Int] = [:]
    for (i, p) in seed.products.enumerated() {
      products[93 + i * 2] = p
      productIDs[p.sku] = 93 + i * 2
    }
    var customerIDs: [String: Int] = [:]
    let start = Date().timeIntervalSince1970 - 30 * 86_400
    for (i, c) in seed.customers.enumerated() {
      customers[12 + i] = WooCustomer(
        id: 12 + i, email: c.email, first: c.first, last: c.last, created: start, modified: start)
      customerIDs[c.email.lowercased()] = 12 + i
    }
    for o in seed.orders { orders[o.number] = WooOrder(seed: o, productIDs: productIDs, customerIDs: customerIDs) }
    // A refund among the seeded orders, when there are enough of them.
    if var o = orders[1010], o.status == "processing" || o.status == "completed" {
      o.status = "refunded"
      o.refundRest(reason: "Damaged in transit", at: o.modified)
      orders[1010] = o
    }
  }

  func count(_ name: String, _ n: Int = 1) { lock.withLock { counted[name, default: 0] += n } }

  // MARK: routes

  public func routes(_ router: Router<BasicRequestContext>, control: String? = nil) {
    for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] {
      router.on("/wp-json/wc/v3/{resource}", method: method) { [self] request, context in
        try await api(request, resource: context.parameters.get("resource") ?? "", id: nil)
      }
      router.on("/wp-json/wc/v3/{resource}/{id}", method: method) { [self] request, context in
        try await api(request, resource: context.parameters.get("resource") ?? "", id: context.parameters.get("id"))
      }
      router.on("/wp-json/wc/v3/{resource}/{id}/{sub}", method: method) { [self] request, context in
        try await api(
          request, resource: context.parameters.get("resource") ?? "", id: context.parameters.get("id"),
          sub: context.parameters.get("sub"))
      }
    }
    controlRoutes(router, token: control)
  }

  /// Every API request: latency, authentication, key permissions and the planned faults (a 5xx after the request
  /// acted is the ambiguous case a client must survive without writing twice).
  private func api(_ request: Request, resource: String, id: String?, sub: String? = nil) async throws -> Response {
    await plan.delay()
    count("requests")
    let query = Self.pairs(request)
    let key: APIKey
    switch authenticate(request, query: query) {
    case .refused(let refusal):
      count("auth_failures")
      return refusal
    case .ok(let k): key = k
    }
    if let refusal = Self.permitted(key, method: request.method) {
      count("auth_failures")
      return refusal
    }
    let target = "\(request.method) /\(resource)\(id.map { "/\($0)" } ?? "")\(sub.map { "/\($0)" } ?? "")"
    if lock.withLock({ blocked.contains(target) }) {
      return Self.wpError("rest_no_route", "No route was found matching the URL and request method.", status: .notFound)
    }
    let fault = plan.draw(target)
    switch fault {
    case .tooMany?:
      return Self.wpError(
        "too_many_requests", "Too Many Requests", status: .tooManyRequests, headers: [.retryAfter: "1"])
    case .unavailable?: return Self.wpError("service_unavailable", "Service Unavailable", status: .serviceUnavailable)
    case .serverError?:
      return Self.wpError(
        "internal_server_error", "There has been a critical error on this website.", status: .internalServerError)
    default: break
    }
    var request = request
    let body =
      request.method == .get || request.method == .delete
      ? Data() : Data(buffer: try await request.collectBody(upTo: 1 << 22))
    let q = Dictionary(query, uniquingKeysWith: { a, _ in a })
    let answer: Response
    switch (resource, id) {
    case ("orders", let id?) where sub == "refunds" && request.method == .get:
      answer = list(refundRows(id), q: q, path: "orders/\(id)/refunds")
    case (_, _) where sub != nil:
      answer = Self.wpError(
        "rest_no_route", "No route was found matching the URL and request method.", status: .notFound)
    case ("orders", nil) where request.method == .get: answer = list(orderRows(q), q: q, path: "orders")
    case ("orders", let id?) where request.method == .get: answer = orderAnswer(id)
    // The facts (§2.3) give orders only their GETs and the batch: `PUT /orders/{id}` has no route here.
    case ("orders", "batch") where request.method == .post: answer = batchOrders(body)
    case ("customers", nil) where request.method == .get: answer = list(customerRows(q), q: q, path: "customers")
    case ("customers", nil) where request.method == .post: answer = createCustomer(body)
    case ("products", nil) where request.method == .get: answer = list(productRows(q), q: q, path: "products")
    case ("products", nil) where request.method == .post: answer = createProduct(body)
    case ("products", let id?) where request.method == .get:
      guard let p = Int(id).flatMap({ pid in lock.withLock { products[pid].map { productJSON(pid, $0) } } }) else {
        answer = Self.wpError("woocommerce_rest_product_invalid_id", "Invalid ID.", status: .notFound)
        break
      }
      answer = SimJSON.response(p)
    case ("webhooks", _): answer = await webhookAPI(request.method, id: id, q: q, body: body)
    default:
      answer = Self.wpError(
        "rest_no_route", "No route was found matching the URL and request method.", status: .notFound)
    }
    switch fault {
    case .badGateway?: return Self.wpError("bad_gateway", "Bad Gateway", status: .badGateway)
    case .serverErrorAfterCommit?:
      return Self.wpError(
        "internal_server_error", "There has been a critical error on this website.", status: .internalServerError)
    case .slow?: await plan.holdSlow()
    default: break
    }
    return answer
  }

  // MARK: collections

  /// A page of `rows` by `page`/`per_page` (1…100, default 10) with the total headers and `Link`.
  func list(_ rows: WooAnswer<[[String: Any]]>, q: [String: String], path: String) -> Response {
    let all: [[String: Any]]
    switch rows {
    case .refused(let r): return r
    case .ok(let r): all = r
    }
    let perPage = Int(q["per_page"] ?? "10") ?? -1
    guard (1...100).contains(perPage) else {
      return SimJSON.response(
        [
          "code": "rest_invalid_param", "message": "Invalid parameter(s): per_page",
          "data": [
            "status": 400, "params": ["per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"],
          ],
        ],
        status: .badRequest)
    }
    guard let page = Int(q["page"] ?? "1"), page >= 1 else {
      return SimJSON.response(
        [
          "code": "rest_invalid_param", "message": "Invalid parameter(s): page",
          "data": ["status": 400, "params": ["page": "page must be greater than or equal to 1"]],
        ], status: .badRequest)
    }
    let pages = (all.count + perPage - 1) / perPage
    let slice = Array(all.dropFirst((page - 1) * perPage).prefix(perPage))
    var headers: HTTPFields = [:]
    headers[HTTPTypes.HTTPField.Name("X-WP-Total")!] = "\(all.count)"
    headers[HTTPTypes.HTTPField.Name("X-WP-TotalPages")!] = "\(pages)"
    var links: [String] = []
    let base = "\(homeURL)/wp-json/wc/v3/\(path)"
    func link(_ n: Int, _ rel: String) -> String {
      let others = q.filter { $0.key != "page" && !$0.key.hasPrefix("oauth_") }.sorted { $0.key < $1.key }
      let text = (others.map { "\(percentEncode($0.key))=\(percentEncode($0.value))" } + ["page=\(n)"]).joined(
        separator: "&")
      return "<\(base)?\(text)>; rel=\"\(rel)\""
    }
    if page > 1 { links.append(link(page - 1, "prev")) }
    if page < pages { links.append(link(page + 1, "next")) }
    if !links.isEmpty { headers[HTTPTypes.HTTPField.Name("Link")!] = links.joined(separator: ", ") }
    return SimJSON.response(slice, headers: headers)
  }

  /// A date filter: ISO 8601, in site-local time unless `dates_are_gmt` (an explicit zone wins).
  func filterTime(_ text: String, gmt: Bool) -> Double? {
    var t = text
    var offset = gmt ? 0 : config.utcOffset
    if t.hasSuffix("Z") {
      t.removeLast()
      offset = 0
    } else if t.count > 19, let sign = t.dropFirst(19).first, sign == "+" || sign == "-" {
      let zone = t.dropFirst(20).split(separator: ":").compactMap { Int($0) }
      offset = (sign == "-" ? -1 : 1) * ((zone.first ?? 0) * 3600 + (zone.dropFirst().first ?? 0) * 60)
      t = String(t.prefix(19))
    }
    guard let local = SimTime.parse(t + "Z") else { return nil }
    return local - Double(offset)
  }

  func invalidDate(_ name: String) -> Response {
    SimJSON.response(
      [
        "code": "rest_invalid_param", "message": "Invalid parameter(s): \(name)",
        "data": ["status": 400, "params": [name: "Invalid date."]],
      ], status: .badRequest)
  }

  private func orderRows(_ q: [String: String]) -> WooAnswer<[[String: Any]]> {
    let gmt = ["1", "true"].contains(q["dates_are_gmt"]?.lowercased() ?? "")
    var bounds: [String: Double] = [:]
    for name in ["after", "before", "modified_after", "modified_before"] {
      guard let text = q[name] else { continue }
      guard let t = filterTime(text, gmt: gmt) else { return .refused(invalidDate(name)) }
      bounds[name] = t
    }
    let orderBy = q["orderby"] ?? "date"
    guard ["date", "id", "include", "title", "slug", "modified"].contains(orderBy) else {
      return .refused(Self.wpError("rest_invalid_param", "Invalid parameter(s): orderby", status: .badRequest))
    }
    let statuses = (q["status"] ?? "any").split(separator: ",").map(String.init)
    let ascending = (q["order"] ?? "desc") == "asc"
    let offset = config.utcOffset
    return .ok(
      lock.withLock {
        var rows = orders.values.filter { o in
          (bounds["after"].map { o.created > $0 } ?? true) && (bounds["before"].map { o.created < $0 } ?? true)
            && (bounds["modified_after"].map { o.modified > $0 } ?? true)
            && (bounds["modified_before"].map { o.modified < $0 } ?? true)
            && (statuses.contains("any") || statuses.contains(o.status))
        }
        rows.sort { a, b in
          let (x, y) =
            orderBy == "modified"
            ? (a.modified, b.modified) : orderBy == "id" ? (Double(a.id), Double(b.id)) : (a.created, b.created)
          if x != y { return ascending ? x < y : x > y }
          return ascending ? a.id < b.id : a.id > b.id
        }
        return rows.map { $0.json(offset: offset) }
      })
  }

  private func orderAnswer(_ id: String) -> Response {
    guard let o = Int(id).flatMap({ n in lock.withLock { orders[n] } }) else {
      return Self.wpError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", status: .notFound)
    }
    return SimJSON.response(o.json(offset: config.utcOffset))
  }

  /// Statuses an order can be given (WooCommerce's core ones and the two a shipment-tracking plugin adds).
  static let statuses: Set<String> = [
    "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed",
    "shipped", "delivered",
  ]

  /// `POST /orders/batch` (`{create, update, delete}`, at most 100 items together): each update is applied as one
  /// order update and answered in `update[]` — the order, or `{id, error}` — with 200 whatever the items met.
  /// Creating and deleting orders is not what this store simulates: those items are answered with an error.
  private func batchOrders(_ body: Data) -> Response {
    guard let batch = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
      return Self.wpError("rest_invalid_json", "Invalid JSON body passed.", status: .badRequest)
    }
    let items = ["create", "update", "delete"].map { (batch[$0] as? [Any])?.count ?? 0 }.reduce(0, +)
    guard items <= 100 else {
      return Self.wpError(
        "woocommerce_rest_request_entity_too_large", "Unable to accept more than 100 items for this request.",
        status: .contentTooLarge)
    }
    var out: [String: Any] = [:]
    for action in ["create", "delete"] {
      guard let list = batch[action] as? [Any], !list.isEmpty else { continue }
      out[action] = list.map { _ in
        [
          "id": 0,
          "error": ["code": "woocommerce_rest_cannot_\(action)", "message": "Not simulated.", "data": ["status": 400]],
        ]
      }
    }
    if let list = batch["update"] as? [Any] {
      out["update"] = list.map { item -> Any in
        let change = item as? [String: Any] ?? [:]
        let id = change["id"].map { "\($0)" } ?? ""
        switch updateOrder(id, change) {
        case .success(let json): return json
        case .failure(let e):
          return ["id": Int(id) ?? 0, "error": ["code": e.code, "message": e.message, "data": ["status": e.status]]]
        }
      }
    }
    return SimJSON.response(out)
  }

  struct ItemError: Error {
    var code: String
    var message: String
    var status: Int
  }

  /// One order update: `status` and `meta_data` (merged by key). Any change is saved with a new modified date and
  /// fires `order.updated`, the connector's own changes included.
  private func updateOrder(_ id: String, _ change: [String: Any]) -> Result<[String: Any], ItemError> {
    guard let n = Int(id), lock.withLock({ orders[n] != nil }) else {
      return .failure(ItemError(code: "woocommerce_rest_shop_order_invalid_id", message: "Invalid ID.", status: 404))
    }
    if let status = change["status"], !(status is String && Self.statuses.contains(status as! String)) {
      return .failure(ItemError(code: "rest_invalid_param", message: "Invalid parameter(s): status", status: 400))
    }
    var meta: [(String, String)] = []
    for m in change["meta_data"] as? [[String: Any]] ?? [] {
      guard let k = m["key"] as? String else {
        return .failure(ItemError(code: "rest_invalid_param", message: "Invalid parameter(s): meta_data", status: 400))
      }
      meta.append((k, "\(m["value"] ?? "")"))
    }
    let updated = lock.withLock { () -> WooOrder in
      var o = orders[n]!
      if let s = change["status"] as? String { o.status = s }
      for (k, v) in meta {
        if let i = o.meta.firstIndex(where: { $0.key == k }) { o.meta[i].value = v } else { o.meta.append((k, v)) }
      }
      o.modified = Date().timeIntervalSince1970.rounded(.down)
      orders[n] = o
      counted["order_updates", default: 0] += 1
      return o
    }
    let json = updated.json(offset: config.utcOffset)
    fire("order.updated", json)
    return .success(json)
  }

  private func customerRows(_ q: [String: String]) -> WooAnswer<[[String: Any]]> {
    let email = q["email"]?.lowercased()
    let offset = config.utcOffset
    return .ok(
      lock.withLock {
        customers.values.filter { c in email.map { c.email.lowercased() == $0 } ?? true }.sorted { $0.id < $1.id }.map {
          $0.json(offset: offset)
        }
      })
  }

  /// `POST /customers`: one account per email (WooCommerce refuses a second, whatever the case).
  private func createCustomer(_ body: Data) -> Response {
    guard let fields = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
      let email = fields["email"] as? String,
      email.contains("@")
    else {
      return SimJSON.response(
        [
          "code": "rest_missing_callback_param", "message": "Missing parameter(s): email",
          "data": ["status": 400, "params": ["email"]],
        ], status: .badRequest)
    }
    let now = Date().timeIntervalSince1970.rounded(.down)
    let created: WooCustomer? = lock.withLock {
      guard !customers.values.contains(where: { $0.email.lowercased() == email.lowercased() }) else { return nil }
      nextID += 1
      let c = WooCustomer(
        id: nextID, email: email, first: fields["first_name"] as? String ?? "",
        last: fields["last_name"] as? String ?? "",
        created: now, modified: now)
      customers[c.id] = c
      return c
    }
    guard let created else {
      count("duplicate_emails")
      return Self.wpError(
        "registration-error-email-exists",
        "An account is already registered with your email address. <a href=\"#\" class=\"showlogin\">Please log in.</a>",
        status: .badRequest)
    }
    let json = created.json(offset: config.utcOffset)
    fire("customer.created", json)
    return SimJSON.response(json, status: .created)
  }

  private func productRows(_ q: [String: String]) -> WooAnswer<[[String: Any]]> {
    .ok(
      lock.withLock {
        products.filter { q["sku"] == nil || $0.value.sku == q["sku"] }.sorted { $0.key < $1.key }.map {
          productJSON($0.key, $0.value)
        }
      })
  }

  func productJSON(_ id: Int, _ p: SandboxSeed.Product) -> [String: Any] {
    [
      "id": id, "name": p.name, "sku": p.sku, "type": "simple", "status": productStatus[id] ?? "publish",
      "price": WooOrder.text(p.price),
      "regular_price": WooOrder.text(p.price), "manage_stock": true, "stock_quantity": 100,
      "tax_class": p.taxRate == dec("0.07") ? "reduced-rate" : "",
    ]
  }
}
