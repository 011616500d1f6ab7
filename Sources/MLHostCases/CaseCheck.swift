import Foundation
import MLHostCore
import MLHostSandbox
import MLHostStore

/// Compares what a case expected with what the systems and the audit trail hold once its steps have run.
struct CaseCheck {
  let world: World
  let expect: ConnectorCase.Expectations
  var connector: String?

  typealias Difference = CaseResult.Difference

  func differences() async throws -> [Difference] {
    var out: [Difference] = []
    let records = try await world.store.records(RecordFilter(connector: connector ?? world.connector, limit: 100_000))
      .reversed()
    for e in expect.records { out += record(e, Array(records)) }
    for e in expect.x3 { out += rows(e) }
    out += sage300Differences()
    for e in expect.adobeShipments { out += adobeShipments(e) }
    for (sku, quantity) in expect.shopifyAvailable.sorted(by: { $0.key < $1.key }) {
      let actual = world.sandbox.shopify.available(sku: sku)
      if actual != quantity {
        out.append(
          Difference(
            subject: "shopify available \(sku) at \(SandboxSeed.location)", expected: "\(quantity)",
            actual: actual.map(String.init) ?? "no such SKU"))
      }
    }
    let counters = world.sandbox.counters
    for (name, e) in expect.counters.sorted(by: { $0.key < $1.key }) {
      guard let actual = counters[name] else {
        out.append(
          Difference(
            subject: "counter \(name)", expected: "a counter",
            actual: "none; there are " + counters.keys.sorted().joined(separator: ", ")))
        continue
      }
      if let n = e.exactly, actual != n {
        out.append(Difference(subject: "counter \(name)", expected: "\(n)", actual: "\(actual)"))
      }
      if let n = e.atLeast, actual < n {
        out.append(Difference(subject: "counter \(name)", expected: "at least \(n)", actual: "\(actual)"))
      }
    }
    return out
  }

  /// The record's audit rows, oldest first, against its expected outcome, history, reason and details.
  private func record(_ e: ConnectorCase.RecordExpectation, _ records: [RecordRow]) -> [Difference] {
    let key = e.key ?? e.order.flatMap { world.sandbox.shopify.orderID(name: $0) }
    let subject = "record \(e.kind) \(e.order ?? e.key ?? "")"
    guard let key else {
      return [Difference(subject: subject, expected: "an order named \(e.order ?? "")", actual: "no such order")]
    }
    let rows = records.filter { $0.kind == e.kind && $0.key == key }
    guard let last = rows.last else {
      return [
        Difference(
          subject: subject, expected: e.history?.joined(separator: ", ") ?? e.outcome ?? "a record", actual: "no record"
        )
      ]
    }
    var out: [Difference] = []
    if let outcome = e.outcome, last.outcome.rawValue != outcome {
      out.append(
        Difference(
          subject: subject + " outcome", expected: outcome, actual: "\(last.outcome.rawValue)\(Self.why(last))"))
    }
    if let history = e.history, rows.map(\.outcome.rawValue) != history {
      out.append(
        Difference(
          subject: subject + " history", expected: history.joined(separator: ", "),
          actual: rows.map(\.outcome.rawValue).joined(separator: ", ") + Self.why(last)))
    }
    // The reason a record was rejected or failed stays checkable after a replay resolved it.
    let failure = rows.last { $0.error != nil }
    if let reason = e.reason, failure?.error?.contains(reason) != true {
      out.append(
        Difference(subject: subject + " reason", expected: "… \(reason) …", actual: failure?.error ?? "(no error)"))
    }
    if let details = e.details, last.details?.contains(details) != true {
      out.append(
        Difference(subject: subject + " details", expected: "… \(details) …", actual: last.details ?? "(no details)"))
    }
    return out
  }

  static func why(_ r: RecordRow) -> String { r.error.map { " (\($0))" } ?? "" }

  /// The X3 rows of a class matching `where`: how many, their fields and their lines.
  private func rows(_ e: ConnectorCase.RowExpectation) -> [Difference] {
    let selection = e.match.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    let subject = "x3 \(e.cls)" + (selection.isEmpty ? "" : " where \(selection)")
    let all = world.sandbox.x3.rows(e.cls)
    let found = all.filter { row in e.match.allSatisfy { Self.same(row[$0.key], $0.value) } }
    var out: [Difference] = []
    if found.count != e.count {
      out.append(
        Difference(
          subject: subject + " count", expected: "\(e.count)",
          actual: "\(found.count)" + (found.isEmpty ? "" : ": " + found.map(Self.describe).joined(separator: "; "))))
    }
    let block =
      e.lineBlock
      ?? (e.cls == "SDELIVERY"
        ? world.sandbox.x3.config.names.deliveryLines : world.sandbox.x3.config.names.invoiceLines)
    for (i, row) in found.enumerated() {
      let label = found.count > 1 ? "\(subject) [\(i + 1)]" : subject
      for (field, value) in e.fields.sorted(by: { $0.key < $1.key }) where !Self.same(row[field], value) {
        out.append(Difference(subject: "\(label) \(field)", expected: value, actual: Self.text(row[field])))
      }
      let lines = row[block] as? [[String: Any]] ?? []
      if let n = e.lineCount, lines.count != n {
        out.append(
          Difference(
            subject: "\(label) lines (\(block))", expected: "\(n) lines",
            actual: "\(lines.count): " + lines.map(Self.describe).joined(separator: "; ")))
      }
      for expected in e.lines
      where !lines.contains(where: { l in expected.allSatisfy { Self.same(l[$0.key], $0.value) } }) {
        out.append(
          Difference(
            subject: "\(label) a line (\(block))",
            expected: expected.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "),
            actual: lines.isEmpty ? "no lines" : lines.map(Self.describe).joined(separator: "; ")))
      }
    }
    return out
  }

  /// Equal as text, or as decimals where both are (`61.2` and `61.20`).
  static func same(_ value: Any?, _ expected: String) -> Bool {
    let actual = text(value)
    if actual == expected { return true }
    guard let a = ExactDecimal(actual), let b = ExactDecimal(expected) else { return false }
    return a == b
  }

  static func text(_ value: Any?) -> String {
    switch value {
    case nil: return "(absent)"
    case let s as String: return s
    case let n as NSNumber: return n.stringValue
    default: return "\(value!)"
    }
  }

  /// A row or line in one line, its scalar fields sorted by name.
  static func describe(_ row: [String: Any]) -> String {
    row.filter { !($0.value is [Any]) }.sorted { $0.key < $1.key }.map { "\($0.key)=\(text($0.value))" }.joined(
      separator: " ")
  }
}
