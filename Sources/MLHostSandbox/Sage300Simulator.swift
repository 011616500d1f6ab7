import Foundation
import Hummingbird
import MLHostCore
import MLHostSystems
import Synchronization

/// A Sage 300 Web API on IIS, following the API facts (§5): `{path}/v1.0/-/{COMPANY}/{module}/{resource}`, Basic
/// auth with an upper-case user (a lower-case one and ADMIN are refused), `Content-Type: application/json` on every
/// request (500 without it), the documented OData subset with `$skip`/`$top` paging capped at the Web API's
/// `PageSize` and counts as strings, OData error bodies, AR customers, GL accounts, distribution codes and AR
/// invoice batches with nested invoices validated against GL as they are inserted (inactive or unknown accounts,
/// locked fiscal periods, duplicate document numbers refused), and posting as a status change. IIS and ARR answer
/// their own HTML 502/503 pages, and the app pool starts cold after it has idled.
public final class Sage300Simulator: @unchecked Sendable {
  public struct Config: Sendable {
    public var path = "/Sage300WebApi"
    public var version = "v1.0"
    public var user = "MLHOST"
    public var password = "sandbox-" + UUID().uuidString.prefix(8).lowercased()
    /// AllowWebApiAccessForAdmin in web.config: off by default, so ADMIN is refused.
    public var allowAdmin = false
    /// web.config `PageSize`: the most rows one GET answers, whatever `$top` asks.
    public var pageSize = 100
    /// Whether a page that is not the last carries `@odata.nextLink` (the documented Web API gives none).
    public var nextLinks = false
    /// Whether `$filter` takes the `any()` lambda over nested details (the API facts list only comparisons and
    /// `substringof`/`startswith`/`endswith`/`length`): off, it is refused as an invalid filter.
    public var anyFilter = true
    /// Whether the server serves `AR/ARDistributionCodes` (not among the resources the API facts list): off, it
    /// answers `ResourceNotFound` as for any resource it does not have; inserts still check the codes.
    public var distributionCodes = true
    /// IIS recycles the idle app pool after this many seconds; the next request then waits `coldStart`.
    public var idleTimeout: Double = 1200
    public var coldStart: Double = 0
    public var faults = Faults()
    /// Company → the first day of its open fiscal periods: documents dated before it are refused.
    public var openFrom: [String: String] = [:]

    public init() {}
  }

  /// The two companies of the sandbox, each its own Sage 300 database.
  public static let companies = ["SAMLTD", "SAMINC"]
  /// Customer groups a new customer may be created in.
  static let groups: Set<String> = ["WEB", "WHL", "RTL"]

  static let faultKinds: [Fault] = [.tooMany, .unavailable, .badGateway, .slow, .serverError, .serverErrorAfterCommit]

  struct Company {
    var customers: [String: [String: Any]] = [:]
    var accounts: [String: [String: Any]] = [:]
    var distributions: [String: [String: Any]] = [:]
    var batches: [Int: [String: Any]] = [:]
    /// DocumentNumber → the batches holding an invoice with it: the database's index on the document number, so
    /// `Invoices/any(d: d/DocumentNumber eq …)` and the duplicate-document check read those batches only instead of
    /// every invoice of the company (which made a catch-up quadratic). Batches are never deleted here.
    var documents: [String: Set<Int>] = [:]
    var nextBatch = 1
    /// How many times each batch was set ReadyToPost (posting twice is what must never happen).
    var postings: [Int: Int] = [:]
  }

  public struct Stats: Sendable {
    public var requests = 0
    public var coldStarts = 0
    public var refusedAuth = 0
    public var refusedContentType = 0
    public var customersCreated = 0
    public var customersUpdated = 0
    public var batchesCreated = 0
    public var invoicesAdded = 0
    public var invoicesRefused = 0
    public var batchesPosted = 0
    /// Requests to post a batch that was no longer open (refused: a batch is posted once).
    public var repostsRefused = 0
    /// Writes refused because their fields came in an order the view cannot take.
    public var refusedOrder = 0
  }

  public let config: Config
  let plan: FaultPlan
  let lock = NSLock()
  var data: [String: Company] = [:]
  private(set) var stats = Stats()
  private var lastRequest = ProcessInfo.processInfo.systemUptime
  private var warmAt = 0.0
  private var openFrom: [String: String]
  private var coldStart: Double

  public init(config: Config = Config(), seed: SandboxSeed) {
    self.config = config
    plan = FaultPlan(config.faults, kinds: Self.faultKinds)
    openFrom = config.openFrom
    coldStart = config.coldStart
    let today = Self.today()
    for (n, code) in Self.companies.enumerated() {
      var c = Company()
      for (acct, description, active) in [
        ("4000", "Sales - web store", true), ("4010", "Sales - books", true), ("4020", "Sales - services", true),
        ("4900", "Sales - discontinued lines", false), ("4500", "Freight charged", true),
        ("2300", "Sales tax payable", true),
      ] {
        c.accounts[acct] = [
          "UnformattedAccount": acct, "Description": description, "AccountType": "IncomeStatement",
          "NormalBalanceDRCR": "Credit", "Status": active ? "Active" : "Inactive", "StructureCode": "ACC",
        ]
      }
      for (code, description, account) in [
        ("WEB", "Web store sales", "4000"), ("BOOK", "Book sales", "4010"),
        ("FRT", "Freight", "4500"), ("TAX", "Sales tax", "2300"),
      ] {
        c.distributions[code] = [
          "DistributionCode": code, "Description": description, "GLAccount": account, "Status": "Active",
        ]
      }
      // The store's existing customers: the first half of the seed's people are in the first company, the second
      // half in the second, under numbers a person gave them.
      let people = seed.customers.filter { $0.x3Code != nil }
      for (i, p) in people.enumerated() where (i < people.count / 2) == (n == 0) {
        let number = String(format: "%@%03d", n == 0 ? "1" : "2", 100 + i)
        c.customers[number] = Self.customer(
          number: number, name: "\(p.first) \(p.last)", email: p.email, group: "RTL", day: today)
      }
      data[code] = c
    }
  }

  static func customer(number: String, name: String, email: String, group: String, day: String) -> [String: Any] {
    [
      "CustomerNumber": number, "ShortName": String(name.prefix(10)), "CustomerName": name, "Email": email,
      "GroupCode": group,
      "Status": "Active", "OnHold": "No", "AccountSet": "USA", "Terms": "N30", "TaxGroup": "USTAX",
      "CurrencyCode": "USD",
      "AccountType": "OpenItem", "DateLastMaintained": day,
    ]
  }

  static func today() -> String { String(SimTime.iso(Date().timeIntervalSince1970).prefix(10)) + "T00:00:00" }

  // MARK: routes

  public func routes(_ router: Router<BasicRequestContext>, control: String? = nil) {
    let base = "\(config.path)/\(config.version)/-"
    for method in [HTTPTypes.HTTPRequest.Method.get, .post, .patch, .put, .delete] {
      router.on(RouterPath(base + "/{company}/{module}/{resource}"), method: method) {
        [self] request, context -> Response in
        try await guarded(request, company: context.parameters.get("company") ?? "") {
          try await handle(
            request, module: context.parameters.get("module") ?? "",
            resource: context.parameters.get("resource") ?? "", count: false)
        }
      }
      router.on(RouterPath(base + "/{company}/{module}/{resource}/{segment}"), method: method) {
        [self] request, context -> Response in
        try await guarded(request, company: context.parameters.get("company") ?? "") {
          guard context.parameters.get("segment") == "$count", request.method == .get else {
            return Self.error("ResourceNotFound", "The resource was not found", status: .notFound)
          }
          return try await handle(
            request, module: context.parameters.get("module") ?? "",
            resource: context.parameters.get("resource") ?? "", count: true)
        }
      }
    }
    SandboxControl.route(router, .get, "/sandbox/sage300/status", token: control) { [self] _, _ in
      let s = stats
      return SimJSON.response([
        "requests": s.requests, "batches_created": s.batchesCreated, "invoices_added": s.invoicesAdded,
        "batches_posted": s.batchesPosted, "customers_created": s.customersCreated,
      ])
    }
  }

  /// An OData error body (API facts §5.5) with its status.
  static func error(_ code: String, _ message: String, status: HTTPResponse.Status) -> Response {
    SimJSON.response(["error": ["code": code, "message": ["lang": "en-US", "value": message]]], status: status)
  }

  /// The HTML page IIS or ARR answers itself, when the request never reached the Web API or its answer was lost.
  static func iisPage(_ status: HTTPResponse.Status) -> Response {
    let title =
      status == .badGateway
      ? "502 - Web server received an invalid response while acting as a gateway or proxy server."
      : "Service Unavailable"
    let html =
      "<!DOCTYPE html><html><head><title>\(title)</title></head><body><h2>\(title)</h2>"
      + "<hr><p>HTTP Error \(status.code). The request cannot be served.</p></body></html>"
    return Response(status: status, headers: [.contentType: "text/html"], body: .init(byteBuffer: .init(string: html)))
  }

  /// What every API request goes through: latency, the cold start after idle, the content-type rule, Basic auth,
  /// the company, and the planned faults (a 502 or a hang come after the request acted: the ambiguous case).
  private func guarded(_ request: Request, company: String, _ act: () async throws -> Response) async throws -> Response
  {
    await plan.delay()
    let wait: Double = lock.withLock {
      stats.requests += 1
      let now = ProcessInfo.processInfo.systemUptime
      if coldStart > 0, now - lastRequest > config.idleTimeout, now >= warmAt {
        warmAt = now + coldStart
        stats.coldStarts += 1
      }
      lastRequest = max(now, warmAt)
      return max(0, warmAt - now)
    }
    if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
    let type = request.headers[.contentType] ?? ""
    guard type.lowercased().hasPrefix("application/json") else {
      lock.withLock { stats.refusedContentType += 1 }
      return Self.error(
        "InternalServerError", "An error has occurred. The request content type is not supported.",
        status: .internalServerError)
    }
    if let refusal = authProblem(request) {
      lock.withLock { stats.refusedAuth += 1 }
      return Self.error("Unauthorized", refusal, status: .unauthorized)
    }
    guard Self.companies.contains(company) else {
      return Self.error(
        "SessionError", "Company \(company) does not exist or the user has no access to it", status: .unauthorized)
    }
    let fault = plan.draw("\(request.method) \(request.uri.path)")
    switch fault {
    case .tooMany?:
      return Self.error(
        "TooManyRequests", "Server was flooded with too many concurrent requests", status: .tooManyRequests)
    case .unavailable?: return Self.iisPage(.serviceUnavailable)
    case .serverError?: return Self.error("InternalServerError", "An error has occurred.", status: .internalServerError)
    default: break
    }
    let answer = try await act()
    switch fault {
    case .badGateway?: return Self.iisPage(.badGateway)
    case .serverErrorAfterCommit?:
      return Self.error("InternalServerError", "An error has occurred.", status: .internalServerError)
    case .slow?: await plan.holdSlow()
    default: break
    }
    return answer
  }

  /// Why the Basic credentials are refused, or nil.
  private func authProblem(_ request: Request) -> String? {
    guard let header = request.headers[.authorization], header.hasPrefix("Basic "),
      let decoded = ByteCodecs.fromBase64(Array(header.dropFirst(6).utf8)).flatMap({
        String(bytes: $0, encoding: .utf8)
      }),
      let colon = decoded.firstIndex(of: ":")
    else { return "Authorization has been denied for this request." }
    let user = String(decoded[..<colon])
    let password = String(decoded[decoded.index(after: colon)...])
    if user != user.uppercased() { return "Invalid user ID or password (user IDs are upper-case)." }
    if user == "ADMIN", !config.allowAdmin { return "Web API access is not allowed for ADMIN." }
    guard user == config.user, password == config.password else { return "Invalid user ID or password." }
    return nil
  }

  // MARK: resources

  /// Properties of each resource, and their kinds for `$filter`.
  static let properties: [String: [String: Sage300Filter.Kind]] = [
    "AR/ARCustomers": [
      "CustomerNumber": .text, "ShortName": .text, "GroupCode": .text, "NationalAccount": .text, "Status": .text,
      "OnHold": .text,
      "CustomerName": .text, "AddressLine1": .text, "AddressLine2": .text, "City": .text, "StateProvince": .text,
      "ZipPostalCode": .text, "Country": .text, "PhoneNumber": .text, "Email": .text, "ContactName": .text,
      "AccountSet": .text,
      "BillingCycle": .text, "InterestProfile": .text, "CurrencyCode": .text, "PrintStatements": .text,
      "AccountType": .text,
      "Terms": .text, "TaxGroup": .text, "CreditLimitCustomerCurrency": .decimal, "CustomerPriceList": .text,
      "DateLastMaintained": .date,
    ],
    "GL/GLAccounts": [
      "UnformattedAccount": .text, "Description": .text, "AccountType": .text, "NormalBalanceDRCR": .text,
      "Status": .text,
      "StructureCode": .text, "AccountGroupCode": .text,
    ],
    "AR/ARDistributionCodes": ["DistributionCode": .text, "Description": .text, "GLAccount": .text, "Status": .text],
    "AR/ARInvoiceBatches": [
      "BatchNumber": .integer, "BatchDate": .date, "BatchStatus": .text, "Description": .text,
      "NumberOfEntries": .integer,
      "BatchTotal": .decimal, "DateLastEdited": .date, "Invoices": .text,
    ],
  ]
  static let invoiceProperties: [String: Sage300Filter.Kind] = [
    "BatchNumber": .integer, "EntryNumber": .integer, "CustomerNumber": .text, "DocumentType": .text,
    "DocumentNumber": .text,
    "DocumentDate": .date, "PostingDate": .date, "DueDate": .date, "InvoiceType": .text, "InvoiceDescription": .text,
    "PONumber": .text, "OrderNumber": .text, "DocumentTotalIncludingTax": .decimal, "InvoiceDetails": .text,
    "UpdateOperation": .text,
  ]
  static let detailProperties: [String: Sage300Filter.Kind] = [
    "BatchNumber": .integer, "EntryNumber": .integer, "LineNumber": .integer, "DistributionCode": .text,
    "RevenueAccount": .text,
    "Description": .text, "ExtendedAmountWithTIP": .decimal, "Quantity": .decimal, "UpdateOperation": .text,
  ]
  static let keys = [
    "AR/ARCustomers": "CustomerNumber", "GL/GLAccounts": "UnformattedAccount",
    "AR/ARDistributionCodes": "DistributionCode", "AR/ARInvoiceBatches": "BatchNumber",
  ]

  private func handle(_ request: Request, module: String, resource segment: String, count: Bool) async throws
    -> Response
  {
    let company = request.uri.path.split(separator: "/").dropFirst(3).first.map(String.init) ?? ""
    let decoded = segment.removingPercentEncoding ?? segment
    var name = decoded
    var key: String?
    if let open = decoded.firstIndex(of: "("), decoded.hasSuffix(")") {
      name = String(decoded[..<open])
      var k = String(decoded[decoded.index(after: open)..<decoded.index(before: decoded.endIndex)])
      if k.hasPrefix("'"), k.hasSuffix("'"), k.count >= 2 {
        k = String(k.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
      }
      key = k
    }
    let resource = module + "/" + name
    guard let kinds = Self.properties[resource], resource != "AR/ARDistributionCodes" || config.distributionCodes
    else {
      return Self.error("ResourceNotFound", "Resource \(resource) was not found", status: .notFound)
    }
    switch (request.method, key) {
    case (.get, nil): return try query(company, resource, kinds, request, count: count)
    case (.get, let key?):
      guard let row = lock.withLock({ rows(company, resource)[key] }) else {
        return Self.error("RecordNotFound", "A Record cannot be found for the specified entity key", status: .notFound)
      }
      return SimJSON.response(row)
    case (.post, nil), (.patch, _?):
      // The raw bytes, read once: the view sees the fields in the order they were sent, which a parsed object loses.
      var request = request
      let raw = Array(buffer: try await request.collectBody(upTo: 1 << 22))
      let body = SimJSON.object(raw)
      if let unknown = Self.unknownProperty(body, kinds) { return unknown }
      if let problem = Sage300FieldOrder.problem(resource, raw) {
        lock.withLock { stats.refusedOrder += 1 }
        return refuse(Refusal(code: "RecordInvalid", message: problem))
      }
      guard let key else { return lock.withLock { insert(company, resource, body) } }
      return lock.withLock { update(company, resource, key: key, body) }
    case (.post, _?):
      return Self.error("InvalidAction", "A POST may only name $template or $process", status: .badRequest)
    default:
      return Self.error("MethodNotAllowed", "The method is not allowed for this resource", status: .methodNotAllowed)
    }
  }

  static func unknownProperty(_ body: [String: Any], _ kinds: [String: Sage300Filter.Kind]) -> Response? {
    if let bad = body.keys.sorted().first(where: { kinds[$0] == nil }) {
      return error("InvalidPayload", "The property '\(bad)' does not exist on this type", status: .badRequest)
    }
    return nil
  }

  private func rows(_ company: String, _ resource: String) -> [String: [String: Any]] {
    let c = data[company]!
    switch resource {
    case "AR/ARCustomers": return c.customers
    case "GL/GLAccounts": return c.accounts
    case "AR/ARDistributionCodes": return c.distributions
    default: return Dictionary(uniqueKeysWithValues: c.batches.map { ("\($0.key)", $0.value) })
    }
  }

  private static let options: Set<String> = ["$filter", "$select", "$orderby", "$top", "$skip", "$count"]

  private func query(
    _ company: String, _ resource: String, _ kinds: [String: Sage300Filter.Kind], _ request: Request,
    count onlyCount: Bool
  ) throws -> Response {
    var given: [String: String] = [:]
    // Query names and values arrive percent-encoded (`%24filter`), as IIS receives them from any client.
    for (k, v) in request.uri.queryParameters {
      let name = String(k).removingPercentEncoding ?? String(k)
      guard Self.options.contains(name) else {
        return Self.error("InvalidParameters", "The query option '\(name)' is not supported", status: .badRequest)
      }
      guard given[name] == nil else {
        return Self.error(
          "InvalidParameters", "The query option '\(name)' was given more than once", status: .badRequest)
      }
      given[name] = String(v).removingPercentEncoding ?? String(v)
    }
    var filter: Sage300Filter?
    if let text = given["$filter"], !text.isEmpty {
      if !config.anyFilter, text.contains("/any(") {
        return Self.error("InvalidParameters", "The $filter is not valid: any() is not supported", status: .badRequest)
      }
      do { filter = try Sage300Filter(text) } catch {
        return Self.error("InvalidParameters", "The $filter is not valid: \(error)", status: .badRequest)
      }
    }
    var rows: [[String: Any]] = lock.withLock {
      // A filter that can only match batches holding one document number reads those batches from the index; the
      // filter below still decides, so the answer is the scan's.
      if resource == "AR/ARInvoiceBatches", let document = filter?.requiredDocument, let c = data[company] {
        return (c.documents[document] ?? []).compactMap { c.batches[$0] }
      }
      return Array(self.rows(company, resource).values)
    }
    if let filter {
      do {
        rows = try rows.filter { row in
          try filter.matches(
            row, kinds: { kinds[$0] },
            details: { path in
              switch path {
              case "Invoices": return { Self.invoiceProperties[$0] }
              case "InvoiceDetails": return { Self.detailProperties[$0] }
              default: return nil
              }
            })
        }
      } catch {
        return Self.error("InvalidParameters", "The $filter is not valid: \(error)", status: .badRequest)
      }
    }
    if onlyCount {
      return Response(
        status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: .init(string: "\(rows.count)")))
    }
    let key = Self.keys[resource]!
    var order: [(String, Bool)] = []
    for part in (given["$orderby"] ?? "").split(separator: ",") {
      let bits = part.split(separator: " ")
      let name = String(bits.first ?? "")
      guard kinds[name] != nil else {
        return Self.error("InvalidParameters", "$orderby: '\(name)' is not a property", status: .badRequest)
      }
      order.append((name, bits.count > 1 && bits[1] == "desc"))
    }
    rows.sort { a, b in
      for (p, desc) in order {
        let o = Self.order(a[p], b[p])
        if o != 0 { return desc ? o > 0 : o < 0 }
      }
      return Self.order(a[key], b[key]) < 0
    }
    guard let skip = Int(given["$skip"] ?? "0"), skip >= 0, let top = Int(given["$top"] ?? "\(config.pageSize)"),
      top >= 0
    else {
      return Self.error("InvalidParameters", "$skip and $top take whole numbers", status: .badRequest)
    }
    let size = min(top, config.pageSize)
    var page = Array(rows.dropFirst(skip).prefix(size))
    if let select = given["$select"], !select.isEmpty {
      let names = Set(select.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
      if let bad = names.sorted().first(where: { kinds[$0] == nil }) {
        return Self.error("InvalidParameters", "$select: '\(bad)' is not a property", status: .badRequest)
      }
      page = page.map { $0.filter { names.contains($0.key) } }
    }
    var body: [String: Any] = [
      "odata.context":
        "\(request.head.authority.map { "http://\($0)" } ?? "")\(config.path)/\(config.version)/-/\(company)/\(resource.split(separator: "/")[0])/$metadata#\(resource.split(separator: "/")[1])",
      "value": page,
    ]
    if given["$count"] == "true" { body["odata.count"] = "\(rows.count)" }
    if config.nextLinks, skip + page.count < rows.count, top > size {
      var items = (URLComponents(string: "http://x\(request.uri.description)")?.queryItems ?? []).filter {
        $0.name != "$skip" && $0.name != "$count"
      }
      items.append(URLQueryItem(name: "$skip", value: "\(skip + page.count)"))
      var c = URLComponents(string: "http://\(request.head.authority ?? "localhost")\(request.uri.path)")!
      c.queryItems = items
      body["@odata.nextLink"] = c.url!.absoluteString
    }
    return SimJSON.response(body)
  }

  static func order(_ a: Any?, _ b: Any?) -> Int {
    if let x = decimal(a), let y = decimal(b), !(a is String) { return x == y ? 0 : (x < y ? -1 : 1) }
    let x = "\(a ?? "")"
    let y = "\(b ?? "")"
    return x == y ? 0 : (x < y ? -1 : 1)
  }

  static func decimal(_ v: Any?) -> ExactDecimal? {
    switch v {
    case let s as String: return ExactDecimal(s)
    case let n as NSNumber: return ExactDecimal(n.stringValue)
    default: return nil
    }
  }

  /// An amount as the JSON number the Web API answers (two decimals print exactly).
  static func number(_ d: ExactDecimal) -> Double { Double(d.description) ?? 0 }

  struct Refusal: Error {
    let code: String
    let message: String
  }

  private func refuse(_ r: Refusal) -> Response { Self.error(r.code, r.message, status: .badRequest) }

  // MARK: writes (callers hold the lock)

  private func insert(_ company: String, _ resource: String, _ body: [String: Any]) -> Response {
    let day = Self.today()
    switch resource {
    case "AR/ARCustomers":
      guard let number = body["CustomerNumber"] as? String, !number.isEmpty else {
        return refuse(Refusal(code: "RecordInvalid", message: "Customer Number cannot be blank."))
      }
      guard number == number.uppercased(), number.count <= 12 else {
        return refuse(
          Refusal(
            code: "RecordInvalid", message: "Customer Number \(number) is invalid (upper-case, at most 12 characters).")
        )
      }
      guard data[company]!.customers[number] == nil else {
        return refuse(
          Refusal(code: "RecordDuplicate", message: "An insert request was made with a key value that already exist"))
      }
      guard let group = body["GroupCode"] as? String, Self.groups.contains(group) else {
        return refuse(
          Refusal(code: "RecordInvalid", message: "Group Code \(body["GroupCode"] ?? "(blank)") does not exist."))
      }
      if let problem = Self.tooLong(body) { return refuse(problem) }
      var row = Self.customer(
        number: number, name: body["CustomerName"] as? String ?? "", email: "", group: group, day: day)
      for (k, v) in body { row[k] = v }
      row["DateLastMaintained"] = day
      data[company]!.customers[number] = row
      stats.customersCreated += 1
      return SimJSON.response(row, status: .created)
    case "AR/ARInvoiceBatches":
      var batch: [String: Any] = [
        "BatchDate": body["BatchDate"] ?? String(day.prefix(10)), "Description": body["Description"] ?? "",
        "BatchStatus": "Open", "DateLastEdited": day, "Invoices": [[String: Any]](),
      ]
      let number = data[company]!.nextBatch
      batch["BatchNumber"] = number
      var invoices: [[String: Any]] = []
      for (i, invoice) in (body["Invoices"] as? [[String: Any]] ?? []).enumerated() {
        switch validInvoice(company, invoice, batch: number, entry: i + 1, others: invoices) {
        case .success(let row): invoices.append(row)
        case .failure(let r):
          stats.invoicesRefused += 1
          return refuse(r)
        }
      }
      batch["Invoices"] = invoices
      Self.total(&batch)
      if let status = body["BatchStatus"] as? String, status != "Open" {
        guard status == "ReadyToPost" else {
          return refuse(Refusal(code: "RecordInvalid", message: "Batch Status \(status) is invalid."))
        }
        batch["BatchStatus"] = status
        data[company]!.postings[number, default: 0] += 1
        stats.batchesPosted += 1
      }
      data[company]!.nextBatch += 1
      data[company]!.batches[number] = batch
      index(company, number, invoices)
      stats.batchesCreated += 1
      stats.invoicesAdded += invoices.count
      return SimJSON.response(batch, status: .created)
    default:
      return Self.error(
        "MethodNotAllowed", "Records of \(resource) are not created through this sandbox", status: .methodNotAllowed)
    }
  }

  private func update(_ company: String, _ resource: String, key: String, _ body: [String: Any]) -> Response {
    switch resource {
    case "AR/ARCustomers":
      guard var row = data[company]!.customers[key] else {
        return Self.error("RecordNotFound", "A Record cannot be found for the specified entity key", status: .notFound)
      }
      if let other = body["CustomerNumber"] as? String, other != key {
        return refuse(
          Refusal(code: "InvalidEntityKey", message: "The key in the payload differs from the key in the URL"))
      }
      if let problem = Self.tooLong(body) { return refuse(problem) }
      if let group = body["GroupCode"] as? String, !Self.groups.contains(group) {
        return refuse(Refusal(code: "RecordInvalid", message: "Group Code \(group) does not exist."))
      }
      for (k, v) in body where k != "DateLastMaintained" { row[k] = v }
      row["DateLastMaintained"] = Self.today()
      data[company]!.customers[key] = row
      stats.customersUpdated += 1
      return SimJSON.response(row)
    case "AR/ARInvoiceBatches":
      guard let number = Int(key), var batch = data[company]!.batches[number] else {
        return Self.error("RecordNotFound", "A Record cannot be found for the specified entity key", status: .notFound)
      }
      let status = batch["BatchStatus"] as? String ?? "Open"
      guard status == "Open" else {
        if body["BatchStatus"] as? String == "ReadyToPost" { stats.repostsRefused += 1 }
        return refuse(
          Refusal(
            code: "RecordInvalid",
            message: "Batch \(number) is \(status == "ReadyToPost" ? "ready to post" : "posted") and cannot be changed."
          ))
      }
      var invoices = batch["Invoices"] as? [[String: Any]] ?? []
      let before = invoices.count
      for invoice in body["Invoices"] as? [[String: Any]] ?? [] {
        guard invoice["UpdateOperation"] as? String == "Insert" else {
          return refuse(
            Refusal(code: "InvalidPayload", message: "Only UpdateOperation Insert is supported for invoices here"))
        }
        let entry = (invoices.compactMap { $0["EntryNumber"] as? Int }.max() ?? 0) + 1
        switch validInvoice(company, invoice, batch: number, entry: entry, others: invoices) {
        case .success(let row): invoices.append(row)
        case .failure(let r):
          stats.invoicesRefused += 1
          return refuse(r)
        }
        stats.invoicesAdded += 1
      }
      batch["Invoices"] = invoices
      if let description = body["Description"] as? String { batch["Description"] = description }
      Self.total(&batch)
      batch["DateLastEdited"] = Self.today()
      if let wanted = body["BatchStatus"] as? String, wanted != "Open" {
        guard wanted == "ReadyToPost" else {
          return refuse(Refusal(code: "RecordInvalid", message: "Batch Status \(wanted) is invalid."))
        }
        guard !invoices.isEmpty else {
          return refuse(Refusal(code: "RecordInvalid", message: "Batch \(number) has no entries to post."))
        }
        batch["BatchStatus"] = "ReadyToPost"
        data[company]!.postings[number, default: 0] += 1
        stats.batchesPosted += 1
      }
      data[company]!.batches[number] = batch
      index(company, number, invoices[before...])
      return SimJSON.response(batch)
    default:
      return Self.error(
        "MethodNotAllowed", "Records of \(resource) are not changed through this sandbox", status: .methodNotAllowed)
    }
  }

  /// Adds invoices stored in batch `number` to the company's DocumentNumber index.
  private func index(_ company: String, _ number: Int, _ invoices: some Sequence<[String: Any]>) {
    for invoice in invoices {
      if let document = invoice["DocumentNumber"] as? String {
        data[company]!.documents[document, default: []].insert(number)
      }
    }
  }

  static func tooLong(_ body: [String: Any]) -> Refusal? {
    let limits = [
      "CustomerName": 60, "ShortName": 10, "Email": 50, "AddressLine1": 60, "AddressLine2": 60, "City": 30,
      "StateProvince": 30, "ZipPostalCode": 20, "Country": 30, "PhoneNumber": 30, "ContactName": 60,
    ]
    for (k, limit) in limits.sorted(by: { $0.key < $1.key }) {
      if let v = body[k] as? String, v.count > limit {
        return Refusal(code: "RecordInvalid", message: "\(k) is longer than \(limit) characters.")
      }
    }
    return nil
  }

  static func total(_ batch: inout [String: Any]) {
    let invoices = batch["Invoices"] as? [[String: Any]] ?? []
    var sum = ExactDecimal(0)
    for i in invoices { sum = (try? sum.adding(decimal(i["DocumentTotalIncludingTax"]) ?? ExactDecimal(0))) ?? sum }
    batch["NumberOfEntries"] = invoices.count
    batch["BatchTotal"] = number(sum)
  }

  /// The invoice as stored, or Sage 300's refusal: customer, document number, fiscal period, every detail's GL.
  private func validInvoice(
    _ company: String, _ body: [String: Any], batch: Int, entry: Int,
    others: [[String: Any]]
  ) -> Result<[String: Any], Refusal> {
    func no(_ m: String) -> Result<[String: Any], Refusal> { .failure(Refusal(code: "RecordInvalid", message: m)) }
    if let bad = body.keys.sorted().first(where: { Self.invoiceProperties[$0] == nil }) {
      return .failure(Refusal(code: "InvalidPayload", message: "The property '\(bad)' does not exist on type Invoice"))
    }
    let c = data[company]!
    guard let customerNumber = body["CustomerNumber"] as? String, let customer = c.customers[customerNumber] else {
      return no("Customer Number \(body["CustomerNumber"] ?? "(blank)") does not exist.")
    }
    guard customer["Status"] as? String != "Inactive" else { return no("Customer \(customerNumber) is inactive.") }
    let document = body["DocumentNumber"] as? String ?? ""
    guard !document.isEmpty, document.count <= 22 else {
      return no("Document Number \(document) is invalid (1 to 22 characters).")
    }
    let stored = (c.documents[document] ?? []).flatMap { c.batches[$0]?["Invoices"] as? [[String: Any]] ?? [] }
    let taken = (stored + others).contains {
      $0["DocumentNumber"] as? String == document && $0["CustomerNumber"] as? String == customerNumber
    }
    guard !taken else { return no("Document Number \(document) already exists for customer \(customerNumber).") }
    let date = body["DocumentDate"] as? String ?? ""
    guard SimTime.parse(date) != nil else { return no("Document Date \(date) is invalid.") }
    if let open = openFrom[company], String(date.prefix(10)) < open {
      return no("Fiscal period for \(date.prefix(10)) is locked for Accounts Receivable.")
    }
    var details: [[String: Any]] = []
    var sum = ExactDecimal(0)
    for (i, d) in (body["InvoiceDetails"] as? [[String: Any]] ?? []).enumerated() {
      if let bad = d.keys.sorted().first(where: { Self.detailProperties[$0] == nil }) {
        return .failure(
          Refusal(code: "InvalidPayload", message: "The property '\(bad)' does not exist on type InvoiceDetail"))
      }
      var account = d["RevenueAccount"] as? String
      if let code = d["DistributionCode"] as? String, !code.isEmpty {
        guard let dist = c.distributions[code] else { return no("Distribution Code \(code) does not exist.") }
        account = account ?? dist["GLAccount"] as? String
      }
      guard let account, !account.isEmpty else {
        return no("Line \(i + 1) needs a Revenue Account or a Distribution Code.")
      }
      guard let gl = c.accounts[account] else { return no("Account \(account) does not exist.") }
      guard gl["Status"] as? String == "Active" else { return no("Account \(account) is inactive.") }
      guard let amount = Self.decimal(d["ExtendedAmountWithTIP"]),
        amount.description.split(separator: ".").dropFirst().first.map({ $0.count <= 2 }) ?? true
      else {
        return no("Line \(i + 1) has no valid amount.")
      }
      sum = (try? sum.adding(amount)) ?? sum
      var row = d
      row["BatchNumber"] = batch
      row["EntryNumber"] = entry
      row["LineNumber"] = (i + 1) * 20
      row["RevenueAccount"] = account
      row["ExtendedAmountWithTIP"] = Self.number(amount)
      row.removeValue(forKey: "UpdateOperation")
      details.append(row)
    }
    guard !details.isEmpty else { return no("Invoice \(document) has no detail lines.") }
    if let total = Self.decimal(body["DocumentTotalIncludingTax"]), total != sum {
      return no("Document Total \(total) does not equal the distributed amount \(sum).")
    }
    var row = body
    row.removeValue(forKey: "UpdateOperation")
    row["BatchNumber"] = batch
    row["EntryNumber"] = entry
    row["DocumentType"] = body["DocumentType"] ?? "Invoice"
    row["InvoiceDetails"] = details
    row["DocumentTotalIncludingTax"] = Self.number(sum)
    return .success(row)
  }

  // MARK: for tests, cases and summaries

  public var statistics: Stats { lock.withLock { stats } }
  public var faultsInjected: Int { plan.injected.withLock { $0.values.reduce(0, +) } }

  /// Batches of `company`, by number.
  public func batches(_ company: String) -> [[String: Any]] {
    lock.withLock { (data[company]?.batches ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
  }

  /// How many times each batch of `company` was set ReadyToPost.
  public func postings(_ company: String) -> [Int: Int] { lock.withLock { data[company]?.postings ?? [:] } }

  /// Every invoice entry of `company`, with its batch's status.
  public func invoices(_ company: String) -> [[String: Any]] {
    batches(company).flatMap { b in
      (b["Invoices"] as? [[String: Any]] ?? []).map { i in
        var row = i
        row["BatchStatus"] = b["BatchStatus"]
        return row
      }
    }
  }

  public func customers(_ company: String) -> [[String: Any]] {
    lock.withLock { (data[company]?.customers ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
  }

  /// Sets GL account `account` of `company` active or inactive; false when there is none.
  @discardableResult
  public func setAccount(_ company: String, _ account: String, active: Bool) -> Bool {
    lock.withLock {
      guard data[company]?.accounts[account] != nil else { return false }
      data[company]!.accounts[account]!["Status"] = active ? "Active" : "Inactive"
      return true
    }
  }

  /// Adds or changes a customer as a person would in Sage 300 (DateLastMaintained today).
  public func maintainCustomer(_ company: String, number: String, name: String, email: String) {
    lock.withLock {
      var row =
        data[company]?.customers[number]
        ?? Self.customer(number: number, name: name, email: email, group: "RTL", day: Self.today())
      row["CustomerName"] = name
      row["Email"] = email
      row["DateLastMaintained"] = Self.today()
      data[company]?.customers[number] = row
    }
  }

  /// Opens or locks fiscal periods: documents dated before `day` (YYYY-MM-DD; nil: none) are refused.
  public func setOpenFrom(_ company: String, _ day: String?) {
    lock.withLock { openFrom[company] = day }
  }

  /// Lets the app pool idle, so the next request pays a cold start of `seconds`.
  public func idle(coldStart seconds: Double) {
    lock.withLock {
      coldStart = seconds
      lastRequest = ProcessInfo.processInfo.systemUptime - config.idleTimeout - 1
    }
  }

}
