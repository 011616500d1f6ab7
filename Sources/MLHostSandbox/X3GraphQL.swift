import Foundation
import HTTPTypes
import Hummingbird
import MLHostCore
import MLHostSystems

/// The folder's Xtrem GraphQL API (`POST /xtrem/api`, folder chosen by `x-xtrem-endpoint`), over the same rows as
/// api1. Packages and nodes follow the API facts (`x3Sales { salesInvoice { query(first, after, filter, orderBy)
/// { edges { cursor node { … } } pageInfo { … } } } }`, `read(_id)`, `create(data)`, `update(data)`); properties are
/// camelCase names of the X3 columns, with references flattened to their codes. Business refusals come as
/// `errors` with `extensions.diagnoses`. Auth: a connected application's HS256 JWT, a gateway token, or Basic.
extension X3Simulator {
  static let xtremEndpoint = HTTPField.Name("x-xtrem-endpoint")!

  /// Node → class, and the property its key is exposed as.
  static let graphNodes: [String: (cls: String, key: String)] = [
    "x3MasterData.customer": ("BPCUSTOMER", "code"), "x3MasterData.product": ("ITMMASTER", "code"),
    "x3Finance.account": ("GACCOUNT", "code"), "x3Finance.costCentre": ("CCE", "code"),
    "x3Sales.salesInvoice": ("SINVOICE", "id"), "x3Sales.salesDelivery": ("SDELIVERY", "id"),
    "x3Stock.stock": ("STOCK", "stockId"), "x3Stock.stockJournal": ("STOJOU", "id"),
  ]

  /// X3 column → GraphQL property, for every class and for document lines.
  static let graphProperties: [String: String] = [
    "BPCNAM": "companyName1", "EMAIL": "email", "CUR": "currency", "BPCSTA": "status", "ITMREF": "product",
    "ITMDES1": "description1", "TCLCOD": "productCategory", "STU": "stockUnit", "ITMSTA": "productStatus",
    "ACC": "account", "CCE": "costCentre", "DES": "description", "ENAFLG": "isActive", "SIVTYP": "invoiceType",
    "BPCINV": "billToCustomer", "CUSORDREF": "customerOrderReference", "INVDAT": "invoiceDate",
    "AMTNOT": "totalAmountExcludingTax", "AMTATI": "totalAmountIncludingTax", "ZSHOPSTA": "zShopStatus",
    "SALFCY": "salesSite", "SIHSID": "invoiceLines", "SDHSDD": "deliveryLines", "CREDATTIM": "createDateTime",
    "SIHORINUM": "originInvoice", "STA": "postingStatus", "BCGCOD": "customerCategory", "CRY": "country",
    "UPDDATTIM": "updateDateTime", "QTY": "quantity", "GROPRI": "grossPrice", "AMTNOTLIN": "lineAmountExcludingTax",
    "VATAMT": "taxAmount", "VACITM": "taxLevel", "BPCORD": "soldToCustomer", "YSHOPFUL": "yShopFulfillment",
    "SINVNUM": "salesInvoice", "DLVDAT": "deliveryDate", "STOFCY": "stockSite", "QTYSTU": "quantityInStockUnit",
    "TRSTYP": "transactionType", "VCRNUM": "documentNumber",
  ]
  static let graphColumns = Dictionary(graphProperties.map { ($0.value, $0.key) }, uniquingKeysWith: { a, _ in a })

  struct GraphError: Error {
    let message: String
    var status: HTTPResponse.Status = .badRequest
  }

  // MARK: auth

  /// Why a bearer token is refused, in X3's words, or nil when it is good: a token the sandbox's gateway issued, or
  /// a connected application's JWT.
  func bearerProblem(_ token: String) -> String? {
    if tokens.valid(token) { return nil }
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3 else { return "Error 50: Invalid token" }
    let signature = Digest.hmac(.sha256, key: Array(config.appSecret.utf8), data: Array("\(parts[0]).\(parts[1])".utf8))
    guard ByteCodecs.base64(signature, urlSafe: true, padded: false) == String(parts[2]),
      let payload = ByteCodecs.fromBase64(Array(parts[1].utf8)),
      let claims = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any],
      let iat = claims["iat"] as? Int, let exp = claims["exp"] as? Int
    else { return "Error 50: Invalid token" }
    let now = Int(Date().timeIntervalSince1970)
    if claims["iss"] as? String != config.appClientID { return "Error 41: Invalid token" }
    if claims["sub"] as? String != config.user { return "Error 42: Invalid token" }
    if (claims["aud"] as? String ?? "") != config.appAudience { return "Error 45: Invalid token" }
    if iat > now + 5 { return "Error 21: Invalid token" }
    if exp <= now || exp - iat > config.tokensValidity { return "Error 50: Invalid token" }
    return nil
  }

  // MARK: execution

  static func graphQLError(_ message: String, status: HTTPResponse.Status, path: [String] = [], diagnoses: Bool = false)
    -> Response
  {
    var error: [String: Any] = ["message": message]
    if !path.isEmpty { error["path"] = path }
    if diagnoses { error["extensions"] = ["diagnoses": [["severity": "error", "message": message]]] }
    var body: [String: Any] = ["errors": [error], "extensions": [:] as [String: Any]]
    if !path.isEmpty { body["data"] = NSNull() }
    return SimJSON.response(body, status: status)
  }

  func graphQL(_ request: Request) async throws -> Response {
    lock.withLock { graphQLCount += 1 }
    let body = try await SimJSON.parse(request)
    guard let text = body["query"] as? String else {
      return Self.graphQLError("Must provide query string.", status: .badRequest)
    }
    do {
      let doc = try GraphQLDocument(text, variables: body["variables"] as? [String: Any] ?? [:])
      guard doc.fields.count == 1, let package = doc.fields.first, package.selection.count == 1,
        let node = package.selection.first, node.selection.count == 1, let op = node.selection.first
      else { throw GraphError(message: "The sandbox answers one package { node { operation } } per request") }
      let path = [package.name, node.name, op.name]
      guard let target = Self.graphNodes["\(package.name).\(node.name)"] else {
        throw GraphError(
          message: "Cannot query field \"\(package.name)\" on type \"\(doc.isMutation ? "sageMutation" : "sageQuery")\""
        )
      }
      do {
        let result = try lock.withLock { try execute(op, node: target, mutation: doc.isMutation) }
        let data: [String: Any] = [package.name: [node.name: [op.name: result]]]
        return SimJSON.response(["data": data, "extensions": ["diagnoses": [] as [Any]]])
      } catch let r as Refusal {
        return Self.graphQLError(r.message, status: .ok, path: path, diagnoses: true)
      }
    } catch let e as GraphError {
      return Self.graphQLError(e.message, status: e.status)
    } catch {
      return Self.graphQLError("\(error)", status: .badRequest)
    }
  }

  /// One operation on one node (the lock is held).
  private func execute(_ op: GraphQLField, node: (cls: String, key: String), mutation: Bool) throws -> Any {
    let cls = classes[node.cls]!
    switch (mutation, op.name) {
    case (false, "query"):
      return try page(op, node: node, cls: cls)
    case (false, "read"):
      guard case .string(let id)? = op.argument("_id") else { throw GraphError(message: "read needs _id") }
      guard let row = cls.rows[id] else { return NSNull() }
      return try project(row, op.selection, node: node)
    case (true, "create"), (true, "update"):
      guard let data = op.argument("data")?.plain as? [String: Any] else {
        throw GraphError(message: "\(op.name) needs data")
      }
      let columns = try Self.columns(data, node: node)
      let result: Result<[String: Any], Refusal>
      if op.name == "create" {
        result = createRow(node.cls, columns)
      } else {
        guard let id = data["_id"] as? String else { throw GraphError(message: "update needs data._id") }
        result = editRow(node.cls, key: id, columns)
      }
      return try project(result.get(), op.selection, node: node)
    default:
      throw GraphError(message: "Cannot query field \"\(op.name)\" on this node")
    }
  }

  /// Properties → columns, lines included; an unknown property is an error, as the schema would make it.
  static func columns(_ data: [String: Any], node: (cls: String, key: String)?) throws -> [String: Any] {
    var out: [String: Any] = [:]
    for (name, value) in data where name != "_id" && name != node?.key {  // X3 numbers its keys
      guard let column = graphColumns[name] else {
        throw GraphError(message: "Field \"\(name)\" is not defined by this input type")
      }
      if let lines = value as? [[String: Any]] {
        out[column] = try lines.map { try columns($0, node: nil) }
      } else if column == "ENAFLG", let b = value as? Bool {
        out[column] = b ? 2 : 1
      } else {
        out[column] = value
      }
    }
    return out
  }

  /// The selected properties of a row; X3's 1/2 flags become booleans.
  private func project(_ row: [String: Any], _ selection: [GraphQLField], node: (cls: String, key: String)?) throws
    -> [String: Any]
  {
    var out: [String: Any] = [:]
    for field in selection {
      if field.name == "_id" || field.name == node?.key, let node {
        out[field.name] = "\(row[classes[node.cls]!.key]!)"
        continue
      }
      guard let column = Self.graphColumns[field.name] else {
        throw GraphError(message: "Cannot query field \"\(field.name)\"")
      }
      let value = row[column]
      if let lines = value as? [[String: Any]] {
        out[field.name] = try lines.map { try project($0, field.selection, node: nil) }
      } else if column == "ENAFLG" {
        out[field.name] = (value as? Int) == 2
      } else {
        out[field.name] = value ?? NSNull()
      }
    }
    return out
  }

  private func page(_ op: GraphQLField, node: (cls: String, key: String), cls: Class) throws -> [String: Any] {
    var first = 20
    if case .int(let n)? = op.argument("first") { first = min(max(n, 1), 1000) }
    var rows: [[String: Any]]
    if case .string(let text)? = op.argument("filter"), !text.isEmpty {
      let filter = try GraphQLDocument.value(text)
      // One equality on a property (a reference lookup before each creation) uses the folder's index.
      if case .object(let pairs) = filter, pairs.count == 1, pairs[0].0 != node.key,
        let column = Self.graphColumns[pairs[0].0],
        case .object(let ops) = pairs[0].1, ops.count == 1, ops[0].0 == "_eq", column != "ENAFLG"
      {
        rows = classes[node.cls]!.lookup(column, "\(ops[0].1.plain)")
      } else {
        rows = try cls.rows.values.filter { try Self.matches($0, filter, key: (node.key, cls.key)) }
      }
    } else {
      rows = Array(cls.rows.values)
    }
    var order: [(String, Bool)] = []
    if case .string(let text)? = op.argument("orderBy"), !text.isEmpty,
      case .object(let pairs) = try GraphQLDocument.value(text)
    {
      for (name, direction) in pairs {
        let column = name == node.key || name == "_id" ? cls.key : try Self.column(name)
        if case .int(let d) = direction { order.append((column, d < 0)) }
      }
    }
    Self.sort(&rows, by: order, key: cls.key)
    if case .string(let cursor)? = op.argument("after"),
      let key = ByteCodecs.fromBase64(Array(cursor.utf8)).map({ String(decoding: $0, as: UTF8.self) }),
      let i = rows.firstIndex(where: { "\($0[cls.key]!)" == key })
    {
      rows = Array(rows[(i + 1)...])
    }
    let slice = rows.prefix(first)
    var edges: [[String: Any]] = []
    for row in slice {
      var edge: [String: Any] = ["cursor": ByteCodecs.base64(Array("\(row[cls.key]!)".utf8))]
      if let nodeSelection = op.selection.first(where: { $0.name == "edges" })?.selection.first(where: {
        $0.name == "node"
      }) {
        edge["node"] = try project(row, nodeSelection.selection, node: node)
      }
      edges.append(edge)
    }
    let endCursor: Any = edges.last?["cursor"] ?? NSNull()
    return [
      "edges": edges, "totalCount": rows.count,
      "pageInfo": ["hasNextPage": rows.count > first, "endCursor": endCursor],
    ]
  }

  static func column(_ property: String) throws -> String {
    guard let c = graphColumns[property] else {
      throw GraphError(message: "Unknown property \"\(property)\" in filter")
    }
    return c
  }

  /// Xtrem's filter: properties ANDed, each a value or operators (`_eq _ne _gt _gte _lt _lte _in _nin _regex`
  /// with `_options: 'i'`), and `_and` / `_or` lists.
  static func matches(_ row: [String: Any], _ filter: GraphQLValue, key: (property: String, column: String)) throws
    -> Bool
  {
    guard case .object(let pairs) = filter else { throw GraphError(message: "filter must be an object") }
    for (name, condition) in pairs {
      switch name {
      case "_and", "_or":
        guard case .list(let parts) = condition else { throw GraphError(message: "\(name) takes a list") }
        let results = try parts.map { try matches(row, $0, key: key) }
        if name == "_and" ? results.contains(false) : !results.contains(true) { return false }
      default:
        let column = name == key.property || name == "_id" ? key.column : try Self.column(name)
        let actual = row[column]
        let value = column == "ENAFLG" ? ((actual as? Int) == 2 ? "true" : "false") : "\(actual ?? "")"
        if case .object(let ops) = condition {
          let options = condition["_options"].map { "\($0.plain)" } ?? ""
          for (op, operand) in ops where op != "_options" {
            guard try compare(value, op, operand, caseInsensitive: options.contains("i")) else { return false }
          }
        } else if try !compare(value, "_eq", condition, caseInsensitive: false) {
          return false
        }
      }
    }
    return true
  }

  private static func compare(_ value: String, _ op: String, _ operand: GraphQLValue, caseInsensitive: Bool) throws
    -> Bool
  {
    let text = "\(operand.plain)"
    func ordered(_ a: String, _ b: String) -> ComparisonResult {
      if let x = Double(a), let y = Double(b) {
        return x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
      }
      return a.compare(b)
    }
    switch op {
    case "_eq": return ordered(value, text) == .orderedSame
    case "_ne": return ordered(value, text) != .orderedSame
    case "_gt": return ordered(value, text) == .orderedDescending
    case "_gte": return ordered(value, text) != .orderedAscending
    case "_lt": return ordered(value, text) == .orderedAscending
    case "_lte": return ordered(value, text) != .orderedDescending
    case "_in", "_nin":
      guard case .list(let xs) = operand else { throw GraphError(message: "\(op) takes a list") }
      let found = xs.contains { ordered(value, "\($0.plain)") == .orderedSame }
      return op == "_in" ? found : !found
    case "_regex":
      let regex = try NSRegularExpression(pattern: text, options: caseInsensitive ? [.caseInsensitive] : [])
      return regex.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    default:
      throw GraphError(message: "Unknown filter operator \(op)")
    }
  }
}
