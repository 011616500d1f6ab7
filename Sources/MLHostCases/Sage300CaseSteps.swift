import Foundation
import MLHostLua
import MLHostSandbox

/// The simulated Sage 300's part of connector test cases: steps a person would take in Sage 300 (maintain a
/// customer, activate a GL account, lock or open fiscal periods, let the app pool idle) and `[[expect.sage300]]`
/// checks of its invoices, customers and batches.
extension ConnectorCase {
  /// What must hold in one Sage 300 company: the rows of `kind` (invoice, customer, batch) matching `where`, how many
  /// and their fields. An invoice row carries its batch's `BatchStatus`.
  public struct Sage300Expectation: Sendable {
    public var company: String
    public var kind = "invoice"
    public var match: [String: String] = [:]
    public var count = 1
    public var fields: [String: String] = [:]
  }

  static let sage300Actions: [String: Set<String>] = [
    "sage300_customer": ["company", "number", "name", "email"],
    "sage300_set_account": ["company", "account", "active"],
    "sage300_open_from": ["company", "day"], "sage300_idle": ["cold_start"],
  ]

  static func sage300Expectations(_ v: LuaValue) throws -> [Sage300Expectation] {
    typealias V = CaseValue
    return try V.list(v, "expect.sage300").enumerated().map { i, r in
      let path = "expect.sage300[\(i + 1)]"
      let t = try V.table(r, path, keys: ["company", "kind", "where", "count", "fields"])
      var e = Sage300Expectation(company: try V.string(t["company"] ?? .nil_, path + ".company"))
      if let k = t["kind"] { e.kind = try V.string(k, path + ".kind") }
      guard ["invoice", "customer", "batch"].contains(e.kind) else {
        throw V.Problem("\(path).kind: invoice, customer or batch")
      }
      e.match = try V.strings(t["where"] ?? .nil_, path + ".where")
      if let n = t["count"] { e.count = try V.int(n, path + ".count") }
      e.fields = try V.strings(t["fields"] ?? .nil_, path + ".fields")
      return e
    }
  }
}

extension World {
  /// Performs a Sage 300 step; false when `step` is not one.
  func performSage300(_ step: ConnectorCase.Step) throws -> Bool {
    let a = step.arguments
    func text(_ key: String) throws -> String {
      guard let v = a[key].flatMap(CaseValue.text) else { throw CaseValue.Problem("\(key) expected") }
      return v
    }
    let sage = sandbox.sage300
    switch step.action {
    case "sage300_customer":
      let company = try text("company")
      guard Sage300Simulator.companies.contains(company) else {
        throw CaseValue.Problem("no Sage 300 company \(company)")
      }
      sage.maintainCustomer(company, number: try text("number"), name: try text("name"), email: try text("email"))
    case "sage300_set_account":
      let (company, account) = (try text("company"), try text("account"))
      guard sage.setAccount(company, account, active: try CaseValue.bool(a["active"] ?? .nil_, "active")) else {
        throw CaseValue.Problem("Sage 300 company \(company) has no GL account \(account)")
      }
    case "sage300_open_from":
      sage.setOpenFrom(try text("company"), try text("day"))
    case "sage300_idle":
      let seconds = try a["cold_start"].map { try CaseValue.int($0, "cold_start") } ?? 1
      sage.idle(coldStart: Double(seconds))
    default:
      return false
    }
    return true
  }
}

extension CaseCheck {
  func sage300Differences() -> [Difference] {
    var out: [Difference] = []
    let sage = world.sandbox.sage300
    for e in expect.sage300 {
      let rows: [[String: Any]]
      switch e.kind {
      case "customer": rows = sage.customers(e.company)
      case "batch": rows = sage.batches(e.company)
      default: rows = sage.invoices(e.company)
      }
      let selection = e.match.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
      let subject = "sage300 \(e.company) \(e.kind)" + (selection.isEmpty ? "" : " where \(selection)")
      let found = rows.filter { row in e.match.allSatisfy { Self.same(row[$0.key], $0.value) } }
      if found.count != e.count {
        out.append(
          Difference(
            subject: subject + " count", expected: "\(e.count)",
            actual: "\(found.count)" + (found.isEmpty ? "" : ": " + found.map(Self.describe).joined(separator: "; "))))
      }
      for (i, row) in found.enumerated() {
        let label = found.count > 1 ? "\(subject) [\(i + 1)]" : subject
        for (field, value) in e.fields.sorted(by: { $0.key < $1.key }) where !Self.same(row[field], value) {
          out.append(Difference(subject: "\(label) \(field)", expected: value, actual: Self.text(row[field])))
        }
      }
    }
    return out
  }
}
