import MLHostStore

/// What one cycle of a host's scheduled jobs did, for a person to read at the end of a run.
public struct CycleReport: Sendable {
  /// Connector, job, and the error that ended it (nil: it succeeded).
  public var jobs: [(connector: String, job: String, error: String?)] = []
  /// The records the cycle wrote, oldest first: every audit row, retries included.
  public var records: [RecordRow] = []

  /// Each record once, in its latest state (a failure a retry has since fixed counts as fixed), in the order
  /// the records were first seen.
  public var finalStates: [RecordRow] {
    var latest: [String: RecordRow] = [:]
    var order: [String] = []
    for r in records {
      let key = "\(r.connector)\u{0}\(r.kind)\u{0}\(r.key)"
      if latest[key] == nil { order.append(key) }
      latest[key] = r
    }
    return order.map { latest[$0]! }
  }

  /// Jobs and their outcome, records by kind and outcome, then every record that needs a person, with the
  /// command that replays it (`replayCommand` writes it for a record id; nil when the records cannot be replayed,
  /// as in a dry run).
  public func text(replayCommand: ((Int64) -> String)?) -> String {
    var lines = ["jobs:"]
    for j in jobs { lines.append("  \(j.connector).\(j.job): " + (j.error.map { "failed: \($0)" } ?? "ok")) }
    lines.append("records:")
    let records = finalStates
    if records.isEmpty { lines.append("  none") }
    for kind in Set(records.map(\.kind)).sorted() {
      let mine = records.filter { $0.kind == kind }
      let counts = RecordRow.Outcome.allCases.compactMap { o -> String? in
        let n = mine.filter { $0.outcome == o }.count
        return n == 0 ? nil : "\(n) \(o.rawValue)"
      }
      lines.append("  \(kind): " + counts.joined(separator: ", "))
    }
    let attention = records.filter { $0.outcome == .rejected || $0.outcome == .failed }
    if !attention.isEmpty, let replayCommand {
      lines.append("needing attention (fix the cause, then replay; failed records are also retried on their own):")
      for r in attention {
        lines.append("  \(r.outcome.rawValue) \(r.kind) \(r.key): \(r.error ?? "")\n    → \(replayCommand(r.id))")
      }
    } else if !attention.isEmpty {
      lines.append("needing attention:")
      for r in attention { lines.append("  \(r.outcome.rawValue) \(r.kind) \(r.key): \(r.error ?? "")") }
    }
    return lines.joined(separator: "\n")
  }
}
