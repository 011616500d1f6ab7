import Foundation
import Hummingbird
import MLHostCore
import MLHostSystems
import Synchronization

/// A Sage X3 folder behind the Syracuse REST api1 (`/api1/x3/erp/{ENDPOINT}/{CLASS}`), following the API facts:
/// `representation=CLASS.$query` queries with `where`, `orderBy`, `count` and `$links.$next` key paging,
/// `CLASS('KEY')` details, `$create` POSTs and `$edit` PUTs, errors as `$diagnoses`. Auth is Basic (a Syracuse user)
/// or a bearer token from the cloud gateway's `/v1/token` (5-minute access tokens, refresh tokens rotated on every
/// use). Creating a delivery takes its goods out of stock and journals the movement, as X3 would.
public final class X3Simulator: @unchecked Sendable {
  public struct Config: Sendable {
    public var endpoint = "SEED"
    public var user = "MLHOST"
    public var password = "sandbox-" + UUID().uuidString.prefix(8).lowercased()
    public var clientID = "sandbox-x3-app"
    public var clientSecret = "x3cs-" + UUID().uuidString.prefix(12).lowercased()
    /// The refresh token the sandbox pairing starts with.
    public var refreshToken = "x3rt-" + UUID().uuidString.lowercased()
    public var tokenLifetime: Double = 300
    /// The connected application registered for GraphQL (Administration > Connected applications): the client
    /// mints HS256 JWTs with this secret for `user`, valid at most `tokensValidity` seconds.
    public var appClientID = "sandbox-x3-connected-app"
    public var appSecret = "x3app-" + UUID().uuidString.prefix(12).lowercased()
    public var appAudience = ""
    public var tokensValidity = 600
    /// Classes published through a representation of another name (an installation's own, e.g. SINVOICE →
    /// ZSINVOICE): api1 accepts only that one for the class. Others use the class name.
    public var representations: [String: String] = [:]
    /// Requests per second before 503 + Retry-After (0: unlimited); on-premise X3 is bounded by its sessions.
    public var rateLimit: Double = 0
    public var faults = Faults()
    /// Names this folder gives what varies between installations (API facts §4.2, "verify per installation").
    public var names = Names()
    /// Tax level codes (VACITM) and their rates in percent: a line must carry one of the codes, not a percentage.
    public var taxLevels: [String: String] = ["NOR": "19", "RED": "7", "US825": "8.25", "EXO": "0"]
    /// Customer categories (BCGCOD) a new customer may be created in.
    public var customerCategories: Set<String> = ["WEB", "NAT"]
    /// The invoice type (SIVTYP) of credit notes, which must name the invoice they credit.
    public var creditNoteType = "CRN"
    /// Whether invoices are posted when created: a posted invoice is not edited (PUT answers 405).
    public var postInvoices = true

    public init() {}
  }

  /// The line blocks and the fields whose names differ between installations.
  public struct Names: Sendable {
    public var invoiceLines = "SIHSID"
    public var deliveryLines = "SDHSDD"
    public var taxLevel = "VACITM"
    public var origin = "SIHORINUM"

    public init() {}
  }

  struct Class {
    var key: String
    var properties: Set<String>
    var rows: [String: [String: Any]] = [:]
    /// Keys by value of a property (uppercased for `upper(...)` lookups), built on the first lookup so a
    /// reference check stays fast with thousands of invoices.
    var indexes: [String: [String: Set<String>]] = [:]

    mutating func store(_ row: [String: Any]) {
      let k = "\(row[key]!)"
      if let old = rows[k] {
        for (name, _) in indexes { indexes[name]![Self.indexValue(old, name), default: []].remove(k) }
      }
      rows[k] = row
      for (name, _) in indexes { indexes[name]![Self.indexValue(row, name), default: []].insert(k) }
    }

    /// The keys whose `property` (or `upper(property)`) equals `value`.
    mutating func lookup(_ name: String, _ value: String) -> [[String: Any]] {
      if indexes[name] == nil {
        var index: [String: Set<String>] = [:]
        for (k, row) in rows { index[Self.indexValue(row, name), default: []].insert(k) }
        indexes[name] = index
      }
      return (indexes[name]![value] ?? []).compactMap { rows[$0] }
    }

    mutating func remove(_ k: String) {
      guard let old = rows.removeValue(forKey: k) else { return }
      for (name, _) in indexes { indexes[name]![Self.indexValue(old, name), default: []].remove(k) }
    }

    static func indexValue(_ row: [String: Any], _ name: String) -> String {
      if name.hasPrefix("upper(") { return "\(row[String(name.dropFirst(6).dropLast())] ?? "")".uppercased() }
      return "\(row[name] ?? "")"
    }
  }

  public let config: Config
  /// The faults X3 shows.
  static let faultKinds: [Fault] = [
    .unavailable, .badGateway, .slow, .revokedToken, .serverError, .serverErrorAfterCommit,
  ]
  let plan: FaultPlan
  let tokens: IssuedTokens
  let lock = NSLock()
  var classes: [String: Class] = [:]
  private var refreshToken: String
  private var sequence = 0
  /// The document counter, for the extensions that number documents too (X3Purchasing).
  var sequenceNumber: Int {
    get { sequence }
    set { sequence = newValue }
  }
  private var rate: (level: Double, stamp: Double)
  private(set) var requestCount = 0
  private(set) var rejectedForRate = 0
  var graphQLCount = 0

  public init(config: Config = Config(), seed: SandboxSeed) {
    self.config = config
    plan = FaultPlan(config.faults, kinds: Self.faultKinds, scriptable: [.bareCreate])
    tokens = IssuedTokens(lifetime: config.tokenLifetime)
    refreshToken = config.refreshToken
    rate = (max(config.rateLimit, 1), ProcessInfo.processInfo.systemUptime)
    let now = SimTime.iso(Date().timeIntervalSince1970 - 3600)
    let n = config.names
    define("BPCUSTOMER", key: "BPCNUM", ["BPCNUM", "BPCNAM", "EMAIL", "CUR", "BPCSTA", "BCGCOD", "CRY"])
    define("ITMMASTER", key: "ITMREF", ["ITMREF", "ITMDES1", "TCLCOD", "STU", "ITMSTA"])
    define("GACCOUNT", key: "ACC", ["ACC", "DES", "ENAFLG"])
    define("CCE", key: "CCE", ["CCE", "DES", "ENAFLG"])
    define(
      "SINVOICE", key: "NUM",
      [
        "NUM", "SIVTYP", "BPCINV", "CUSORDREF", "INVDAT", "CUR", "AMTNOT", "AMTATI", "ZSHOPSTA", "SALFCY",
        n.invoiceLines,
        n.origin, "STA", "CREDATTIM", "UPDDATTIM",
      ] + X3Simulator.addressProperties)
    define(
      "SDELIVERY", key: "SDHNUM",
      [
        "SDHNUM", "BPCORD", "CUSORDREF", "YSHOPFUL", "SINVNUM", "DLVDAT", "STOFCY", n.deliveryLines, "CREDATTIM",
        "UPDDATTIM",
      ])
    define("STOCK", key: "STOCOU", ["STOCOU", "ITMREF", "STOFCY", "QTYSTU", "UPDDATTIM"])
    define("STOJOU", key: "MVTNUM", ["MVTNUM", "ITMREF", "STOFCY", "QTYSTU", "TRSTYP", "VCRNUM", "UPDDATTIM"])
    for c in seed.customers where c.x3Code != nil {
      insert(
        "BPCUSTOMER",
        ["BPCNUM": c.x3Code!, "BPCNAM": "\(c.first) \(c.last)", "EMAIL": c.email, "CUR": "EUR", "BPCSTA": 2])
    }
    for (i, p) in seed.products.enumerated() where p.x3Item != nil {
      insert("ITMMASTER", ["ITMREF": p.x3Item!, "ITMDES1": p.name, "TCLCOD": p.productClass, "STU": "UN", "ITMSTA": 1])
      insert(
        "STOCK",
        ["STOCOU": 500 + i, "ITMREF": p.x3Item!, "STOFCY": SandboxSeed.site, "QTYSTU": 40 + i * 7, "UPDDATTIM": now])
    }
    insert("ITMMASTER", ["ITMREF": "FREIGHT", "ITMDES1": "Frais de port", "TCLCOD": "SERV", "STU": "UN", "ITMSTA": 1])
    for (acc, des, on) in [
      ("701000", "Ventes de marchandises", true), ("701100", "Ventes de livres", true),
      ("706100", "Prestations de services (fermé)", false), ("445719", "TVA collectée 19 %", true),
      ("445707", "TVA collectée 7 %", true), ("445825", "Sales tax payable Texas 8.25 %", true),
      ("445700", "TVA exonérée", true), ("708500", "Ports et frais facturés", true),
    ] {
      insert("GACCOUNT", ["ACC": acc, "DES": des, "ENAFLG": on ? 2 : 1])
    }
    insert("CCE", ["CCE": "WEB01", "DES": "Boutique en ligne", "ENAFLG": 2])
    insert("CCE", ["CCE": "RET01", "DES": "Magasins (fermé)", "ENAFLG": 1])
    defineStockModule()
  }

  private func define(_ name: String, key: String, _ properties: [String]) {
    classes[name] = Class(key: key, properties: Set(properties))
  }

  private func insert(_ cls: String, _ row: [String: Any]) {
    classes[cls]!.store(row)
  }

  // MARK: routes

  /// The API routes, and with a `control` token the sandbox's control routes.
  public func routes(_ router: Router<BasicRequestContext>, control: String? = nil) {
    router.post("/v1/token") { [self] request, _ -> Response in
      let f = try await SimJSON.fields(request)
      guard f["client_id"] == config.clientID, f["client_secret"] == config.clientSecret else {
        return SimJSON.response(["message": "Unauthorised"], status: .unauthorized)
      }
      guard f["grant_type"] == "refresh_token" else {
        return SimJSON.response(["message": "Invalid grant type"], status: .badRequest)
      }
      let rotated: String? = lock.withLock {
        guard f["refresh_token"] == refreshToken else { return nil }
        refreshToken = "x3rt-" + UUID().uuidString.lowercased()
        return refreshToken
      }
      guard let rotated else { return SimJSON.response(["message": "Invalid refresh token"], status: .badRequest) }
      return SimJSON.response([
        "access_token": tokens.issue(prefix: "x3at-"), "token_type": "Bearer",
        "expires_in": Int(config.tokenLifetime), "refresh_token": rotated,
      ])
    }
    for method in [HTTPTypes.HTTPRequest.Method.get, .post, .put] {
      router.on("/api1/x3/erp/{endpoint}/{resource}", method: method) { [self] request, context -> Response in
        guard context.parameters.get("endpoint") == config.endpoint else {
          return Self.diagnose("Endpoint \(context.parameters.get("endpoint") ?? "") does not exist", status: .notFound)
        }
        return try await guarded(request, refused: { Self.diagnose("Authentication required", status: .unauthorized) })
        {
          let resource = (context.parameters.get("resource") ?? "").removingPercentEncoding ?? ""
          return try await handle(request, resource: resource)
        }
      }
    }
    router.post("/xtrem/api") { [self] request, _ -> Response in
      guard request.headers[Self.xtremEndpoint] == config.endpoint else {
        return Self.graphQLError(
          "Endpoint \(request.headers[Self.xtremEndpoint] ?? "(no x-xtrem-endpoint header)") does not exist",
          status: .notFound)
      }
      let refused = { [self] in
        let problem = Self.bearer(request).flatMap(bearerProblem) ?? "Error 50: Invalid token"
        return Response(status: .unauthorized, body: .init(byteBuffer: .init(string: problem)))
      }
      return try await guarded(request, refused: refused) { try await graphQL(request) }
    }
    controlRoutes(router, token: control)
  }

  /// The sandbox's control routes for X3 (see `SandboxControl`): customers, items, stock, GL accounts, counts.
  private func controlRoutes(_ router: Router<BasicRequestContext>, token: String?) {
    SandboxControl.route(router, .post, "/sandbox/x3/customers", token: token) { [self] request, _ in
      let body = try await SimJSON.parse(request)
      guard let email = body["EMAIL"] as? String, email.contains("@") else {
        return SandboxControl.refuse("EMAIL expected")
      }
      if let taken = customer(email: email) {
        return SandboxControl.refuse("X3 already has customer \(taken) with email \(email)", status: .conflict)
      }
      let code = body["BPCNUM"] as? String ?? nextCustomerCode()
      let name =
        body["BPCNAM"] as? String
        ?? email.split(separator: "@")[0].split(separator: ".").map(\.capitalized).joined(separator: " ")
      addCustomer(code: code, name: name, email: email)
      return SimJSON.response(["BPCNUM": code, "BPCNAM": name, "EMAIL": email])
    }
    SandboxControl.route(router, .post, "/sandbox/x3/items", token: token) { [self] request, _ in
      let body = try await SimJSON.parse(request)
      guard let item = body["ITMREF"] as? String, !item.isEmpty else { return SandboxControl.refuse("ITMREF expected") }
      let added = addItem(
        item, name: body["ITMDES1"] as? String ?? item, productClass: body["TCLCOD"] as? String ?? "GOODS",
        quantity: body["QTYSTU"] as? Int ?? 0)
      guard added else { return SandboxControl.refuse("X3 already has item \(item)", status: .conflict) }
      return SimJSON.response(["ITMREF": item, "STOFCY": SandboxSeed.site, "QTYSTU": body["QTYSTU"] as? Int ?? 0])
    }
    SandboxControl.route(router, .post, "/sandbox/x3/stock", token: token) { [self] request, _ in
      let body = try await SimJSON.parse(request)
      guard let item = body["ITMREF"] as? String, let qty = body["QTYSTU"] as? Int, qty >= 0 else {
        return SandboxControl.refuse("ITMREF and QTYSTU (0 or more) expected")
      }
      guard let before = stock(item: item) else {
        return SandboxControl.refuse(
          "X3 has no item \(item) at site \(SandboxSeed.site) (add it first)", status: .notFound)
      }
      setStock(item: item, quantity: qty)
      return SimJSON.response(["ITMREF": item, "STOFCY": SandboxSeed.site, "QTYSTU": qty, "was": before])
    }
    SandboxControl.route(router, .post, "/sandbox/x3/accounts/{code}", token: token) { [self] request, context in
      let body = try await SimJSON.parse(request)
      let code = context.parameters.get("code") ?? ""
      guard let enabled = body["enabled"] as? Bool else {
        return SandboxControl.refuse("enabled (true or false) expected")
      }
      guard setEnabled("GACCOUNT", code: code, enabled) else {
        return SandboxControl.refuse("X3 has no GL account \(code)", status: .notFound)
      }
      return SimJSON.response(["ACC": code, "enabled": enabled])
    }
    SandboxControl.route(router, .get, "/sandbox/x3/status", token: token) { [self] _, _ in
      SimJSON.response(counts)
    }
  }

  static func diagnose(_ message: String, status: HTTPResponse.Status, headers: HTTPFields = [:]) -> Response {
    SimJSON.response(["$diagnoses": [["$severity": "error", "$message": message]]], status: status, headers: headers)
  }

  static func bearer(_ request: Request) -> String? {
    guard let h = request.headers[.authorization], h.hasPrefix("Bearer ") else { return nil }
    return String(h.dropFirst(7))
  }

  private func authorized(_ request: Request) -> Bool {
    if let bearer = Self.bearer(request) { return bearerProblem(bearer) == nil }
    let basic = "Basic " + ByteCodecs.base64(Array("\(config.user):\(config.password)".utf8))
    return request.headers[.authorization] == basic
  }

  private func admit() -> Bool {
    lock.withLock {
      requestCount += 1
      guard config.rateLimit > 0 else { return true }
      let now = ProcessInfo.processInfo.systemUptime
      rate.level = min(config.rateLimit, rate.level + (now - rate.stamp) * config.rateLimit)
      rate.stamp = now
      guard rate.level >= 1 else {
        rejectedForRate += 1
        return false
      }
      rate.level -= 1
      return true
    }
  }

  /// What every API request goes through, REST or GraphQL: latency, authentication, the session limit and the
  /// planned faults — a bad gateway or a slow answer comes after the request has acted, the ambiguous case.
  private func guarded(_ request: Request, refused: () -> Response, _ act: () async throws -> Response) async throws
    -> Response
  {
    await plan.delay()
    guard authorized(request) else { return refused() }
    guard admit() else {
      return Self.diagnose(
        "The server is busy: too many requests", status: .serviceUnavailable, headers: [.retryAfter: "1"])
    }
    let fault = plan.draw("\(request.method) \(request.uri.path)")
    switch fault {
    case .unavailable?: return Self.diagnose("Service unavailable", status: .serviceUnavailable)
    case .serverError?: return Self.diagnose("Internal server error", status: .internalServerError)
    case .revokedToken?:
      if let bearer = Self.bearer(request) { tokens.revoke(bearer) }
      return refused()
    default: break
    }
    let answer = try await act()
    switch fault {
    case .badGateway?: return Self.diagnose("Bad gateway", status: .badGateway)  // after acting: the ambiguous case
    // Committed, then failed.
    case .serverErrorAfterCommit?: return Self.diagnose("Internal server error", status: .internalServerError)
    case .bareCreate? where request.method == .post:
      return SimJSON.response(["$uuid": UUID().uuidString], status: .created)
    case .slow?: await plan.holdSlow()
    default: break
    }
    return answer
  }

  // MARK: api1

  private func handle(_ request: Request, resource: String) async throws -> Response {
    var name = resource
    var key: String?
    if let open = resource.firstIndex(of: "("), resource.hasSuffix(")") {
      name = String(resource[..<open])
      key = String(resource[resource.index(after: open)..<resource.index(before: resource.endIndex)])
        .trimmingCharacters(in: CharacterSet(charactersIn: "'"))
    }
    guard let cls = lock.withLock({ classes[name] }) else {
      return Self.diagnose("Class \(name) does not exist", status: .notFound)
    }
    let q = request.uri.queryParameters
    let representation = q.get("representation") ?? ""
    guard representation.hasPrefix((config.representations[name] ?? name) + ".$") else {
      return Self.diagnose(
        "Representation \(representation.isEmpty ? "(none)" : representation) is not valid for \(name)",
        status: .badRequest)
    }
    switch (request.method, key) {
    case (.get, nil): return query(name, cls, request)
    case (.get, let key?):
      guard let row = lock.withLock({ classes[name]?.rows[key] }) else {
        return Self.diagnose("Record not found", status: .notFound)
      }
      return SimJSON.response(Self.detail(row))
    case (.post, nil):
      let body = try await SimJSON.parse(request)
      return lock.withLock { create(name, body) }
    case (.put, let key?):
      let body = try await SimJSON.parse(request)
      return lock.withLock { edit(name, key: key, body) }
    default:
      return Self.diagnose("Method not allowed", status: .methodNotAllowed)
    }
  }

  static func detail(_ row: [String: Any]) -> [String: Any] {
    var r = row
    r["$uuid"] = UUID().uuidString.lowercased()
    r["$etag"] = row["UPDDATTIM"] ?? SimTime.iso(Date().timeIntervalSince1970)
    return r
  }

  private func query(_ name: String, _ cls: Class, _ request: Request) -> Response {
    let q = request.uri.queryParameters
    let count = min(max(Int(q.get("count") ?? "20") ?? 20, 1), 200)
    var rows: [[String: Any]]
    if let text = q.get("where").flatMap({ $0.removingPercentEncoding ?? $0 }), !text.isEmpty {
      do {
        let w = try X3Where(text)
        if case .compare(let property, let upper, "eq", .text(let value), nil) = w.root,
          cls.properties.contains(property)
        {
          rows = lock.withLock { classes[name]!.lookup(upper ? "upper(\(property))" : property, value) }
        } else {
          rows = try lock.withLock { Array(classes[name]!.rows.values) }.filter {
            try w.matches($0, properties: cls.properties)
          }
        }
      } catch {
        return Self.diagnose("\(error)", status: .internalServerError)  // X3 answers 500 to a bad where
      }
    } else {
      rows = lock.withLock { Array(classes[name]!.rows.values) }
    }
    let order = (q.get("orderBy").flatMap { $0.removingPercentEncoding } ?? "").split(separator: ",").map {
      part -> (String, Bool) in
      let bits = part.split(separator: " ")
      return (String(bits.first ?? ""), bits.count > 1 && bits[1].lowercased() == "desc")
    }.filter { !$0.0.isEmpty }
    Self.sort(&rows, by: order, key: cls.key)
    if let after = q.get("key"), after.hasPrefix("gt.") {
      let last = String(after.dropFirst(3))
      if let i = rows.firstIndex(where: { "\($0[cls.key]!)" == last }) { rows = Array(rows[(i + 1)...]) }
    }
    let page = Array(rows.prefix(count))
    var body: [String: Any] = ["$itemsPerPage": count, "$resources": page]
    if rows.count > count, let last = page.last {
      var c = URLComponents(string: "http://\(request.head.authority ?? "localhost")\(request.uri.path)")!
      var items = (URLComponents(string: "http://x\(request.uri.description)")?.queryItems ?? []).filter {
        $0.name != "key"
      }
      items.append(URLQueryItem(name: "key", value: "gt.\(last[cls.key]!)"))
      c.queryItems = items
      body["$links"] = ["$next": ["$url": c.url!.absoluteString, "$type": "application/json", "$method": "GET"]]
    }
    return SimJSON.response(body)
  }

  /// Rows in `order` (property, descending), then by key: what both APIs page over.
  static func sort(_ rows: inout [[String: Any]], by order: [(String, Bool)], key: String) {
    rows.sort { a, b in
      for (p, desc) in order {
        let x = "\(a[p] ?? "")"
        let y = "\(b[p] ?? "")"
        if x != y { return desc ? x > y : x < y }
      }
      return "\(a[key]!)" < "\(b[key]!)"
    }
  }

  func nextNumber(_ prefix: String) -> String {
    sequence += 1
    return String(format: "%@%@%06d", prefix, SandboxSeed.site, sequence)
  }

  /// X3 refusing a creation or an edit, with the status api1 answers it with.
  struct Refusal: Error {
    let message: String
    var status: HTTPResponse.Status = .badRequest
  }

  private func create(_ name: String, _ body: [String: Any]) -> Response {
    switch createRow(name, body) {
    case .success(let row): return SimJSON.response(Self.detail(row), status: .created)
    case .failure(let r): return Self.diagnose(r.message, status: r.status)
    }
  }

  /// Creates a row of `name` by X3's rules (callers hold the lock).
  func createRow(_ name: String, _ body: [String: Any]) -> Result<[String: Any], Refusal> {
    let now = SimTime.iso(Date().timeIntervalSince1970)
    switch name {
    case "SINVOICE":
      if let problem = invoiceProblem(body) { return .failure(Refusal(message: problem)) }
      var row = body.filter { classes[name]!.properties.contains($0.key) }
      row["NUM"] = nextNumber(body["SIVTYP"] as? String == config.creditNoteType ? "SCN" : "SIH")
      row["SIVTYP"] = body["SIVTYP"] ?? "INV"
      row["STA"] = config.postInvoices ? 3 : 1
      row["CREDATTIM"] = now
      row["UPDDATTIM"] = now
      insert(name, row)
      return .success(row)
    case "SDELIVERY":
      guard let customer = body["BPCORD"] as? String, classes["BPCUSTOMER"]!.rows[customer] != nil else {
        return .failure(Refusal(message: "Customer \(body["BPCORD"] ?? "") does not exist"))
      }
      let lines = body[config.names.deliveryLines] as? [[String: Any]] ?? []
      guard !lines.isEmpty else { return .failure(Refusal(message: "At least one line is required")) }
      for l in lines where classes["ITMMASTER"]!.rows["\(l["ITMREF"] ?? "")"] == nil {
        return .failure(Refusal(message: "Product \(l["ITMREF"] ?? "") does not exist"))
      }
      var row = body.filter { classes[name]!.properties.contains($0.key) }
      row["SDHNUM"] = nextNumber("SDH")
      row["CREDATTIM"] = now
      row["UPDDATTIM"] = now
      insert(name, row)
      for l in lines {
        let item = "\(l["ITMREF"]!)"
        let qty = (l["QTY"] as? NSNumber)?.intValue ?? 0
        let current = classes["STOCK"]!.rows.values.first { "\($0["ITMREF"]!)" == item }?["QTYSTU"] as? Int ?? 0
        moveStock(
          item: item, site: "\(body["STOFCY"] ?? SandboxSeed.site)", to: current - qty, type: "shipment",
          voucher: "\(row["SDHNUM"]!)")
      }
      return .success(row)
    case "BPCUSTOMER":
      // The facts' one diagnosis of a customer create: X3 numbers no customer itself, the code is the caller's.
      guard let code = body["BPCNUM"] as? String, !code.isEmpty else {
        return .failure(Refusal(message: "Customer code mandatory"))
      }
      guard let customerName = body["BPCNAM"] as? String, !customerName.isEmpty else {
        return .failure(Refusal(message: "Company name mandatory"))
      }
      guard let category = body["BCGCOD"] as? String, !category.isEmpty else {
        return .failure(Refusal(message: "Customer category mandatory"))
      }
      guard config.customerCategories.contains(category) else {
        return .failure(Refusal(message: "Customer category \(category): Record does not exist"))
      }
      var row = body.filter { classes[name]!.properties.contains($0.key) }
      row["BPCNUM"] = code
      guard classes[name]!.rows[code] == nil else {
        return .failure(Refusal(message: "Customer \(code) already exists"))
      }
      row["CUR"] = body["CUR"] ?? "EUR"
      row["BPCSTA"] = 2
      insert(name, row)
      return .success(row)
    default:
      if let issued = createStockDocument(name, body, now: now) { return issued }
      if let purchasing = createPurchasing(name, body) { return purchasing }
      if let item = createItem(name, body) { return item }
      return .failure(Refusal(message: "Creation is not allowed on \(name) in this folder", status: .methodNotAllowed))
    }
  }

  /// X3's business rules for a sales invoice or credit note, to the cent: the lines in this folder's line block,
  /// each with a tax level code that exists, and a credit note naming the invoice it credits.
  private func invoiceProblem(_ b: [String: Any]) -> String? {
    guard let customer = b["BPCINV"] as? String, !customer.isEmpty else { return "Customer code mandatory" }
    guard classes["BPCUSTOMER"]!.rows[customer] != nil else { return "Customer \(customer) does not exist" }
    if b["SIVTYP"] as? String == config.creditNoteType {
      let origin = "\(b[config.names.origin] ?? "")"
      guard let invoice = classes["SINVOICE"]!.rows[origin], invoice["SIVTYP"] as? String != config.creditNoteType
      else {
        return "Origin invoice \(origin): Record does not exist"
      }
      guard invoice["BPCINV"] as? String == customer else {
        return "Origin invoice \(origin) belongs to another customer"
      }
    }
    let lines = b[config.names.invoiceLines] as? [[String: Any]] ?? []
    guard !lines.isEmpty else { return "At least one line is required" }
    var net = ExactDecimal(0)
    var vat = ExactDecimal(0)
    for (i, l) in lines.enumerated() {
      let item = "\(l["ITMREF"] ?? "")"
      guard classes["ITMMASTER"]!.rows[item] != nil else { return "Line \(i + 1): product \(item) does not exist" }
      let level = "\(l[config.names.taxLevel] ?? "")"
      guard config.taxLevels[level] != nil else { return "Line \(i + 1): tax level \(level): Record does not exist" }
      for (field, cls) in [("ACC", "GACCOUNT"), ("CCE", "CCE")] {
        let code = "\(l[field] ?? "")"
        guard let row = classes[cls]!.rows[code] else {
          return "Line \(i + 1): \(cls == "CCE" ? "cost centre" : "account") \(code) does not exist"
        }
        guard row["ENAFLG"] as? Int == 2 else {
          return "Line \(i + 1): \(cls == "CCE" ? "cost centre" : "account") \(code) is not active"
        }
      }
      guard let amount = Self.decimal(l["AMTNOTLIN"]), let tax = Self.decimal(l["VATAMT"]) else {
        return "Line \(i + 1): amounts expected as decimals"
      }
      if let problem = Self.taxProblem(
        line: i + 1, amount: amount, tax: tax, level: level, percent: config.taxLevels[level]!)
      {
        return problem
      }
      net = (try? net.adding(amount)) ?? net
      vat = (try? vat.adding(tax)) ?? vat
    }
    guard let amtnot = Self.decimal(b["AMTNOT"]), let amtati = Self.decimal(b["AMTATI"]) else {
      return "AMTNOT and AMTATI are mandatory"
    }
    guard amtnot == net, let gross = try? net.adding(vat), amtati == gross else {
      return "Totals do not balance: lines \(net) + tax \(vat) ≠ \(amtati)"
    }
    return nil
  }

  static func decimal(_ v: Any?) -> ExactDecimal? {
    switch v {
    case let s as String: return ExactDecimal(s)
    case let n as NSNumber: return ExactDecimal(n.stringValue)
    default: return nil
    }
  }

  private func edit(_ name: String, key: String, _ body: [String: Any]) -> Response {
    switch editRow(name, key: key, body) {
    case .success(let row): return SimJSON.response(Self.detail(row))
    case .failure(let r): return Self.diagnose(r.message, status: r.status)
    }
  }

  /// Changes the given properties of row `key` (callers hold the lock).
  func editRow(_ name: String, key: String, _ body: [String: Any]) -> Result<[String: Any], Refusal> {
    guard var row = classes[name]?.rows[key] else {
      return .failure(Refusal(message: "Record not found", status: .notFound))
    }
    if name == "SINVOICE", row["STA"] as? Int == 3 {
      return .failure(Refusal(message: "Invoice \(key) is posted: modification not allowed", status: .methodNotAllowed))
    }
    for (k, v) in body where classes[name]!.properties.contains(k) && k != classes[name]!.key { row[k] = v }
    row["UPDDATTIM"] = SimTime.iso(Date().timeIntervalSince1970)
    classes[name]!.store(row)
    return .success(row)
  }

  func moveStock(item: String, site: String, to quantity: Int, type: String, voucher: String) {
    let now = SimTime.iso(Date().timeIntervalSince1970)
    guard
      var stock = classes["STOCK"]!.rows.values.first(where: {
        "\($0["ITMREF"]!)" == item && "\($0["STOFCY"]!)" == site
      })
    else { return }
    let delta = quantity - (stock["QTYSTU"] as? Int ?? 0)
    stock["QTYSTU"] = quantity
    stock["UPDDATTIM"] = now
    insert("STOCK", stock)
    sequence += 1
    insert(
      "STOJOU",
      [
        "MVTNUM": sequence, "ITMREF": item, "STOFCY": site, "QTYSTU": delta, "TRSTYP": type, "VCRNUM": voucher,
        "UPDDATTIM": now,
      ])
  }

  // MARK: for tests and summaries

  public func addCustomer(code: String, name: String, email: String) {
    lock.withLock { insert("BPCUSTOMER", ["BPCNUM": code, "BPCNAM": name, "EMAIL": email, "CUR": "EUR", "BPCSTA": 2]) }
  }

  /// Removes the customers whose email is `email` (case-insensitive); answers how many there were.
  @discardableResult
  public func removeCustomer(email: String) -> Int {
    lock.withLock {
      let gone = classes["BPCUSTOMER"]!.rows.filter { "\($0.value["EMAIL"] ?? "")".lowercased() == email.lowercased() }
        .map(\.key)
      for key in gone { classes["BPCUSTOMER"]!.remove(key) }
      return gone.count
    }
  }

  /// Sets the stock of `item` at `site` to `quantity`, journaled as an adjustment (a receipt), as a stock count would.
  public func setStock(item: String, quantity: Int, site: String = SandboxSeed.site) {
    lock.withLock { moveStock(item: item, site: site, to: quantity, type: "receipt", voucher: "ADJ") }
  }

  /// The stock of `item` at `site`, or nil when X3 keeps none there.
  public func stock(item: String, site: String = SandboxSeed.site) -> Int? {
    lock.withLock {
      classes["STOCK"]!.rows.values.first { "\($0["ITMREF"]!)" == item && "\($0["STOFCY"]!)" == site }.map {
        $0["QTYSTU"] as? Int ?? 0
      }
    }
  }

  /// Adds an item with a stock row of `quantity` at the sandbox's site; answers false when X3 already has it.
  @discardableResult
  public func addItem(_ item: String, name: String, productClass: String = "GOODS", quantity: Int = 0) -> Bool {
    lock.withLock {
      guard classes["ITMMASTER"]!.rows[item] == nil else { return false }
      insert("ITMMASTER", ["ITMREF": item, "ITMDES1": name, "TCLCOD": productClass, "STU": "UN", "ITMSTA": 1])
      let counter = (classes["STOCK"]!.rows.values.compactMap { $0["STOCOU"] as? Int }.max() ?? 500) + 1
      insert(
        "STOCK",
        [
          "STOCOU": counter, "ITMREF": item, "STOFCY": SandboxSeed.site, "QTYSTU": quantity,
          "UPDDATTIM": SimTime.iso(Date().timeIntervalSince1970),
        ])
      return true
    }
  }

  /// The code of the customer whose email is `email` (case-insensitive).
  public func customer(email: String) -> String? {
    lock.withLock {
      classes["BPCUSTOMER"]!.rows.values.first { "\($0["EMAIL"] ?? "")".lowercased() == email.lowercased() }.map {
        "\($0["BPCNUM"]!)"
      }
    }
  }

  /// The first free customer code of the seed's pattern (C0013…).
  func nextCustomerCode() -> String {
    lock.withLock {
      var n = classes["BPCUSTOMER"]!.rows.count + 1
      while classes["BPCUSTOMER"]!.rows[String(format: "C%04d", n)] != nil { n += 1 }
      return String(format: "C%04d", n)
    }
  }

  /// How many rows each class holds, by a name a person reads (`customers`, `invoices`…).
  public var counts: [String: Int] {
    lock.withLock {
      let names = [
        "BPCUSTOMER": "customers", "ITMMASTER": "items", "GACCOUNT": "gl_accounts", "SINVOICE": "invoices",
        "SDELIVERY": "deliveries", "STOCK": "stock_rows", "STOJOU": "stock_movements",
      ]
      var out = Dictionary(uniqueKeysWithValues: names.map { ($0.value, classes[$0.key]?.rows.count ?? 0) })
      out["gl_accounts_disabled"] = classes["GACCOUNT"]!.rows.values.filter { $0["ENAFLG"] as? Int == 1 }.count
      return out
    }
  }

  /// Enables or disables a GL account (`GACCOUNT`) or cost centre (`CCE`): its yes/no flag ENAFLG (2 = yes, 1 = no).
  /// Answers false when there is no such row.
  @discardableResult
  public func setEnabled(_ cls: String, code: String, _ enabled: Bool) -> Bool {
    lock.withLock {
      guard var row = classes[cls]?.rows[code], row["ENAFLG"] != nil else { return false }
      row["ENAFLG"] = enabled ? 2 : 1
      classes[cls]!.store(row)
      return true
    }
  }

  public func rows(_ cls: String) -> [[String: Any]] {
    lock.withLock { Array(classes[cls]?.rows.values ?? [:].values) }
  }
  public var faultsInjected: Int { plan.injected.withLock { $0.values.reduce(0, +) } }
  /// Faults of one kind injected so far (`serverErrorAfterCommit`…).
  public func faultsInjected(_ kind: String) -> Int {
    plan.injected.withLock { s in s.first { $0.key.rawValue == kind }?.value ?? 0 }
  }
  public var currentRefreshToken: String { lock.withLock { refreshToken } }
  public var requests: Int { lock.withLock { requestCount } }
  /// Requests answered by the GraphQL API (the rest went to api1).
  public var graphQLRequests: Int { lock.withLock { graphQLCount } }
}
