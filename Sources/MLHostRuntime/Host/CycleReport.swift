/// What one cycle of a host's scheduled jobs did, for a person to read at the end of a run.
public struct CycleReport: Sendable {
  /// Connector, job, and the error that ended it (nil: it succeeded).
  public var jobs: [(connector: String, job: String, error: String?)] = []
  /// The records the cycle wrote, oldest first.
  public var records: [RecordRow] = []

  public var text: String {
    var lines: [String] = []
    for j in jobs { lines.append("  \(j.connector).\(j.job): " + (j.error.map { "failed: \($0)" } ?? "ok")) }
    let counts = RecordRow.Outcome.allCases.map { o in "\(records.filter { $0.outcome == o }.count) \(o.rawValue)" }
    lines.append("records: " + counts.joined(separator: ", "))
    for r in records where r.outcome == .rejected || r.outcome == .failed {
      lines.append("  \(r.outcome.rawValue) \(r.kind) \(r.key): \(r.error ?? "")  → mlhost replay \(r.id)")
    }
    return lines.joined(separator: "\n")
  }
}
