import Foundation

/// The results of a run of cases, for people (pass/fail per case, each failure as expected/actual) and for CI (JSON).
public struct CaseReport: Sendable {
  public var results: [CaseResult] = []

  public init(results: [CaseResult] = []) { self.results = results }

  public var failed: Int { results.filter { !$0.passed }.count }

  /// One line per case; under a failed one, each difference as `- expected` / `+ actual`; then the counts.
  public var text: String {
    (results.map(Self.text(of:)) + [summary]).joined(separator: "\n")
  }

  /// `N passed, M failed`.
  public var summary: String { "\(results.count - failed) passed, \(failed) failed" }

  /// One case: `PASS name (time) — description`, or `FAIL …` with the error or each difference under it.
  public static func text(of r: CaseResult) -> String {
    let time = String(format: "%.1f s", r.seconds)
    var lines = [
      "\(r.passed ? "PASS" : "FAIL") \(r.name) (\(time))" + (r.description.isEmpty ? "" : " — \(r.description)")
    ]
    if let error = r.error { lines.append("    error: \(error)") }
    for d in r.differences {
      lines.append("    \(d.subject):")
      lines.append("      - expected: \(d.expected)")
      lines.append("      + actual:   \(d.actual)")
    }
    return lines.joined(separator: "\n")
  }

  /// `{"passed": n, "failed": n, "cases": [{name, file, description, passed, seconds, error, differences}]}`.
  public var json: String {
    struct Case: Encodable {
      var name, file, description: String
      var passed: Bool
      var seconds: Double
      var error: String?
      var differences: [CaseResult.Difference]
    }
    struct Document: Encodable {
      var passed, failed: Int
      var cases: [Case]
    }
    let doc = Document(
      passed: results.count - failed, failed: failed,
      cases: results.map {
        Case(
          name: $0.name, file: $0.file, description: $0.description, passed: $0.passed,
          seconds: ($0.seconds * 1000).rounded() / 1000, error: $0.error, differences: $0.differences)
      })
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(doc)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }
}
