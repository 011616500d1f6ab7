import Foundation
import MLHostCore
import MLHostLua
import MLHostModules
import MLHostStore

/// One test case of a connector, read from a TOML file in its package's `tests/` folder: what the sandbox systems
/// start with, the settings changed, what happens step by step, and what must result. The keys are documented in
/// the connector's README ("Test cases"); an unknown key is an error, so a misspelt expectation cannot pass silently.
public struct ConnectorCase: Sendable {
  public var name: String
  public var file: URL
  public var description: String
  public var seed = Seed()
  /// Settings replaced for this case, by dotted path (as `--set`).
  public var settings: [String: LuaValue] = [:]
  public var steps: [Step] = []
  public var expect = Expectations()

  public struct Seed: Sendable {
    /// The first `orders` orders of the sandbox's default seed.
    public var orders = 0
    public var extraOrders: [Order] = []
    public var x3Customers: [Customer] = []
    public var x3RemoveCustomers: [String] = []
    public var x3Stock: [String: Int] = [:]
    public var shopifyAvailable: [String: Int] = [:]
    /// The X3 installation's names for what varies (`invoice_lines`, `delivery_lines`, `tax_level`, `origin`).
    public var x3Names: [String: String] = [:]
    /// The Admin API version the simulated store serves (its webhook subscriptions follow it).
    public var shopifyAPIVersion: String?
    /// The simulated store's Magento version (2.3 answers a page past the end with the last page again).
    public var adobeVersion: String?
    /// false: the Adobe store does not serve `/V1/store/storeViews` (not in the API facts).
    public var adobeStoreViews = true
    /// Whether the simulated Sage 300 takes `any()` in `$filter`.
    public var sage300AnyFilter = true
    public var sage300DistributionCodes = true
  }

  public struct Order: Sendable {
    /// A seed customer's email, or a new customer.
    public var customer: Customer
    public var lines: [(sku: String, quantity: Int)]
    public var financialStatus = "PAID"
    public var shipping: String?
    public var usSalesTax = false
    public var fulfilled = false
    public var cancelled = false
  }

  public struct Customer: Sendable {
    public var code: String?
    public var first: String?
    public var last: String?
    public var email: String
  }

  /// One action; `action` is the `do` of the step, `arguments` the rest of its keys.
  public struct Step: Sendable {
    public var action: String
    public var arguments: [String: LuaValue]
    public var line: String {
      ([action] + arguments.keys.sorted().map { "\($0)=\(Self.text(arguments[$0]!))" }).joined(separator: " ")
    }

    static func text(_ v: LuaValue) -> String { CaseValue.text(v) ?? "\(v)" }
  }

  public struct Expectations: Sendable {
    public var records: [RecordExpectation] = []
    public var x3: [RowExpectation] = []
    public var shopifyAvailable: [String: Int] = [:]
    public var counters: [String: CounterExpectation] = [:]
    public var sage300: [Sage300Expectation] = []
    public var adobeShipments: [ShipmentExpectation] = []
  }

  public struct RecordExpectation: Sendable {
    public var kind = "shopify.order"
    /// A Shopify order name (#1001), or the record's own key.
    public var order: String?
    public var key: String?
    public var outcome: String?
    public var history: [String]?
    public var reason: String?
    public var details: String?
  }

  public struct RowExpectation: Sendable {
    public var cls: String
    public var match: [String: String] = [:]
    public var count = 1
    public var fields: [String: String] = [:]
    public var lines: [[String: String]] = []
    public var lineCount: Int?
    public var lineBlock: String?
  }

  public struct CounterExpectation: Sendable {
    public var atLeast: Int?
    public var exactly: Int?
  }

  /// The steps a case can take, and the keys each takes.
  public static let actions: [String: Set<String>] = [
    "poll": [], "run": ["job", "input"], "webhook": ["topic", "order"], "race": ["topic", "order"], "replay": [],
    "x3_add_customer": ["code", "name", "email"], "x3_remove_customer": ["email"],
    "x3_set_stock": ["item", "quantity"],
    "x3_set_enabled": ["class", "code", "enabled"],
    "shopify_change_order": ["order", "financial_status", "cancel", "fulfill", "refund", "refund_shipping"],
    "shopify_set_available": ["sku", "quantity"], "shopify_sell_after_read": ["sku"],
    "fault": ["system", "kind", "match", "after", "times"],
  ].merging(wooCommerceActions) { a, _ in a }.merging(sage300Actions) { a, _ in a }.merging(adobeActions) { a, _ in a }
}

extension HostError {
  /// A case file that cannot be read or run: the file and what is wrong, by key.
  static func caseFile(_ file: URL, _ message: String) -> HostError {
    HostError(.input, message, file: file.lastPathComponent)
  }
}

/// Reading values of a case file, each checked with the key it came from.
enum CaseValue {
  static func text(_ v: LuaValue) -> String? {
    switch v {
    case .string: return v.stringValue
    case .integer(let i): return String(i)
    case .number(let d): return String(d)
    case .boolean(let b): return String(b)
    default: return nil
    }
  }

  static func map(_ v: LuaValue, _ path: String) throws -> [String: LuaValue] {
    switch v {
    case .nil_: return [:]
    case .map(let m):
      var out: [String: LuaValue] = [:]
      for (k, x) in m {
        guard let key = k.stringValue else { throw Problem("\(path): keys must be text") }
        out[key] = x
      }
      return out
    default: throw Problem("\(path): a table expected")
    }
  }

  static func list(_ v: LuaValue, _ path: String) throws -> [LuaValue] {
    switch v {
    case .nil_: return []
    case .array(let a): return a
    case .map(let m) where m.isEmpty: return []
    default: throw Problem("\(path): an array expected")
    }
  }

  static func string(_ v: LuaValue, _ path: String) throws -> String {
    guard let s = text(v) else { throw Problem("\(path): a value expected") }
    return s
  }

  static func int(_ v: LuaValue, _ path: String) throws -> Int {
    guard case .integer(let i) = v else { throw Problem("\(path): an integer expected") }
    return Int(i)
  }

  static func bool(_ v: LuaValue, _ path: String) throws -> Bool {
    guard case .boolean(let b) = v else { throw Problem("\(path): true or false expected") }
    return b
  }

  static func strings(_ v: LuaValue, _ path: String) throws -> [String: String] {
    try map(v, path).mapValues { try string($0, path) }
  }

  static func ints(_ v: LuaValue, _ path: String) throws -> [String: Int] {
    try map(v, path).reduce(into: [:]) { out, kv in out[kv.key] = try int(kv.value, "\(path).\(kv.key)") }
  }

  /// The table at `path`, refusing keys it does not know.
  static func table(_ v: LuaValue, _ path: String, keys: Set<String>) throws -> [String: LuaValue] {
    let m = try map(v, path)
    if let unknown = m.keys.sorted().first(where: { !keys.contains($0) }) {
      throw Problem("\(path).\(unknown): unknown key; known: \(keys.sorted().joined(separator: ", "))")
    }
    return m
  }

  struct Problem: Error {
    let message: String
    init(_ m: String) { message = m }
  }
}

extension ConnectorCase {
  /// Reads the case in `file` (TOML); its name is the file's name without `.toml`.
  public static func load(_ file: URL) throws -> ConnectorCase {
    let text: String
    do { text = try String(contentsOf: file, encoding: .utf8) } catch {
      throw HostError.caseFile(file, "cannot read it: \(error)")
    }
    do {
      return try parse(TOMLReader.parse(text), file: file)
    } catch let p as CaseValue.Problem {
      throw HostError.caseFile(file, p.message)
    } catch let e as HostError {
      // Already about this file, or the TOML reader's, which knows the line but not the file.
      throw e.file != nil ? e : HostError(e.kind, e.detail, file: file.lastPathComponent, line: e.line)
    } catch {
      throw HostError.caseFile(file, "\(error)")
    }
  }

  static func parse(_ document: LuaValue, file: URL) throws -> ConnectorCase {
    typealias V = CaseValue
    let top = try V.table(document, "case", keys: ["description", "seed", "settings", "steps", "expect"])
    var c = ConnectorCase(
      name: file.deletingPathExtension().lastPathComponent, file: file,
      description: try top["description"].map { try V.string($0, "description") } ?? "")
    let seed = try V.table(
      top["seed"] ?? .nil_, "seed",
      keys: [
        "orders", "order", "x3_customers", "x3_remove_customers", "x3_stock", "shopify_available", "x3_names",
        "shopify_api_version", "adobe_version", "adobe_store_views", "sage300_any_filter",
        "sage300_distribution_codes",
      ])
    c.seed.shopifyAPIVersion = try seed["shopify_api_version"].map { try V.string($0, "seed.shopify_api_version") }
    c.seed.adobeVersion = try seed["adobe_version"].map { try V.string($0, "seed.adobe_version") }
    if let v = seed["adobe_store_views"] { c.seed.adobeStoreViews = try V.bool(v, "seed.adobe_store_views") }
    if let v = seed["sage300_any_filter"] { c.seed.sage300AnyFilter = try V.bool(v, "seed.sage300_any_filter") }
    if let v = seed["sage300_distribution_codes"] {
      c.seed.sage300DistributionCodes = try V.bool(v, "seed.sage300_distribution_codes")
    }
    if let n = seed["orders"] { c.seed.orders = try V.int(n, "seed.orders") }
    for (i, o) in try V.list(seed["order"] ?? .nil_, "seed.order").enumerated() {
      c.seed.extraOrders.append(try order(o, "seed.order[\(i + 1)]"))
    }
    for (i, x) in try V.list(seed["x3_customers"] ?? .nil_, "seed.x3_customers").enumerated() {
      let path = "seed.x3_customers[\(i + 1)]"
      let t = try V.table(x, path, keys: ["code", "name", "email"])
      let name = try t["name"].map { try V.string($0, path + ".name") }
      c.seed.x3Customers.append(
        Customer(
          code: try V.string(t["code"] ?? .nil_, path + ".code"), first: name, last: nil,
          email: try V.string(t["email"] ?? .nil_, path + ".email")))
    }
    c.seed.x3RemoveCustomers = try V.list(seed["x3_remove_customers"] ?? .nil_, "seed.x3_remove_customers")
      .map { try V.string($0, "seed.x3_remove_customers") }
    c.seed.x3Stock = try V.ints(seed["x3_stock"] ?? .nil_, "seed.x3_stock")
    c.seed.shopifyAvailable = try V.ints(seed["shopify_available"] ?? .nil_, "seed.shopify_available")
    let names = try V.table(
      seed["x3_names"] ?? .nil_, "seed.x3_names", keys: ["invoice_lines", "delivery_lines", "tax_level", "origin"])
    c.seed.x3Names = try names.mapValues { try V.string($0, "seed.x3_names") }

    c.settings = Self.flatten(try V.map(top["settings"] ?? .nil_, "settings"))

    for (i, s) in try V.list(top["steps"] ?? .nil_, "steps").enumerated() {
      let path = "steps[\(i + 1)]"
      var args = try V.map(s, path)
      guard let action = args.removeValue(forKey: "do").flatMap(V.text) else {
        throw V.Problem("\(path).do: the action expected")
      }
      guard let known = actions[action] else {
        throw V.Problem(
          "\(path).do: unknown action '\(action)'; known: \(actions.keys.sorted().joined(separator: ", "))")
      }
      if let unknown = args.keys.sorted().first(where: { !known.contains($0) }) {
        throw V.Problem(
          "\(path).\(unknown): '\(action)' takes \(known.isEmpty ? "no other keys" : known.sorted().joined(separator: ", "))"
        )
      }
      c.steps.append(Step(action: action, arguments: args))
    }
    if c.steps.isEmpty { c.steps = [Step(action: "poll", arguments: [:])] }

    let expect = try V.table(
      top["expect"] ?? .nil_, "expect",
      keys: [
        "records", "x3", "shopify_available", "counters", "sage300", "adobe_shipments",
      ])
    for (i, r) in try V.list(expect["records"] ?? .nil_, "expect.records").enumerated() {
      let path = "expect.records[\(i + 1)]"
      let t = try V.table(r, path, keys: ["kind", "order", "key", "outcome", "history", "reason", "details"])
      var e = RecordExpectation()
      if let k = t["kind"] { e.kind = try V.string(k, path + ".kind") }
      e.order = try t["order"].map { try V.string($0, path + ".order") }
      e.key = try t["key"].map { try V.string($0, path + ".key") }
      guard (e.order == nil) != (e.key == nil) else { throw V.Problem("\(path): give `order` or `key`") }
      e.outcome = try t["outcome"].map { try V.string($0, path + ".outcome") }
      e.history = try t["history"].map { try V.list($0, path + ".history").map { try V.string($0, path + ".history") } }
      e.reason = try t["reason"].map { try V.string($0, path + ".reason") }
      e.details = try t["details"].map { try V.string($0, path + ".details") }
      for o in [e.outcome].compactMap({ $0 }) + (e.history ?? []) where RecordRow.Outcome(rawValue: o) == nil {
        throw V.Problem("\(path): '\(o)' is not an outcome (created, updated, unchanged, rejected, failed)")
      }
      c.expect.records.append(e)
    }
    for (i, r) in try V.list(expect["x3"] ?? .nil_, "expect.x3").enumerated() {
      let path = "expect.x3[\(i + 1)]"
      let t = try V.table(r, path, keys: ["class", "where", "count", "fields", "lines", "line_count", "line_block"])
      var e = RowExpectation(cls: try V.string(t["class"] ?? .nil_, path + ".class"))
      e.match = try V.strings(t["where"] ?? .nil_, path + ".where")
      if let n = t["count"] { e.count = try V.int(n, path + ".count") }
      e.fields = try V.strings(t["fields"] ?? .nil_, path + ".fields")
      e.lines = try V.list(t["lines"] ?? .nil_, path + ".lines").map { try V.strings($0, path + ".lines") }
      e.lineCount = try t["line_count"].map { try V.int($0, path + ".line_count") }
      e.lineBlock = try t["line_block"].map { try V.string($0, path + ".line_block") }
      c.expect.x3.append(e)
    }
    c.expect.sage300 = try sage300Expectations(expect["sage300"] ?? .nil_)
    c.expect.shopifyAvailable = try V.ints(expect["shopify_available"] ?? .nil_, "expect.shopify_available")
    c.expect.adobeShipments = try adobeShipments(expect["adobe_shipments"] ?? .nil_)
    for (name, v) in try V.map(expect["counters"] ?? .nil_, "expect.counters") {
      let path = "expect.counters.\(name)"
      if case .integer(let n) = v {
        c.expect.counters[name] = CounterExpectation(exactly: Int(n))
      } else {
        let t = try V.table(v, path, keys: ["at_least"])
        c.expect.counters[name] = CounterExpectation(atLeast: try V.int(t["at_least"] ?? .nil_, path + ".at_least"))
      }
    }
    return c
  }

  static func order(_ v: LuaValue, _ path: String) throws -> Order {
    typealias V = CaseValue
    let t = try V.table(
      v, path, keys: ["customer", "lines", "financial_status", "shipping", "us_sales_tax", "fulfilled", "cancelled"])
    let customer: Customer
    switch t["customer"] ?? .nil_ {
    case .map:
      let c = try V.table(t["customer"]!, path + ".customer", keys: ["first", "last", "email"])
      customer = Customer(
        code: nil, first: try c["first"].map { try V.string($0, path + ".customer.first") },
        last: try c["last"].map { try V.string($0, path + ".customer.last") },
        email: try V.string(c["email"] ?? .nil_, path + ".customer.email"))
    default:
      customer = Customer(
        code: nil, first: nil, last: nil, email: try V.string(t["customer"] ?? .nil_, path + ".customer"))
    }
    let lines = try V.list(t["lines"] ?? .nil_, path + ".lines").enumerated().map {
      i, l -> (sku: String, quantity: Int) in
      let lt = try V.table(l, "\(path).lines[\(i + 1)]", keys: ["sku", "quantity"])
      return (
        sku: try V.string(lt["sku"] ?? .nil_, "\(path).lines[\(i + 1)].sku"),
        quantity: try lt["quantity"].map { try V.int($0, "\(path).lines[\(i + 1)].quantity") } ?? 1
      )
    }
    guard !lines.isEmpty else { throw V.Problem("\(path).lines: at least one line expected") }
    var o = Order(customer: customer, lines: lines)
    if let f = t["financial_status"] { o.financialStatus = try V.string(f, path + ".financial_status").uppercased() }
    o.shipping = try t["shipping"].map { try V.string($0, path + ".shipping") }
    if let x = t["us_sales_tax"] { o.usSalesTax = try V.bool(x, path + ".us_sales_tax") }
    if let x = t["fulfilled"] { o.fulfilled = try V.bool(x, path + ".fulfilled") }
    if let x = t["cancelled"] { o.cancelled = try V.bool(x, path + ".cancelled") }
    return o
  }

  /// `[settings]` as dotted paths: `x3.fields.invoice_lines = "Z"` and `[settings.x3.fields]` tables alike.
  static func flatten(_ m: [String: LuaValue], prefix: String = "") -> [String: LuaValue] {
    var out: [String: LuaValue] = [:]
    for (k, v) in m {
      if case .map(let inner) = v, !inner.isEmpty {
        let sub = Dictionary(
          uniqueKeysWithValues: inner.compactMap { key, value in key.stringValue.map { ($0, value) } })
        out.merge(flatten(sub, prefix: prefix + k + ".")) { _, new in new }
      } else {
        out[prefix + k] = v
      }
    }
    return out
  }
}
