import Foundation
import MLHostCore
import Synchronization

/// What a dry run would have written: every mutating request, held back and recorded with its body scrubbed of
/// known secrets and of values under secret-sounding keys.
public final class DryRunJournal: Sendable {
  public struct Entry: Sendable, Equatable {
    public var system: String
    public var method: String
    public var url: String
    public var body: String
  }

  private let entries = Mutex<[Entry]>([])
  /// Bodies longer than this are cut: the journal is for reading.
  static let bodyLimit = 4096

  public init() {}

  public var all: [Entry] { entries.withLock { $0 } }

  func record(system: String, _ request: HTTPRequest) {
    var body = request.body.map { String(decoding: $0.prefix(Self.bodyLimit), as: UTF8.self) } ?? ""
    if (request.body?.count ?? 0) > Self.bodyLimit { body += "…" }
    let entry = Entry(
      system: system, method: request.method, url: SecretRedactor.shared.redact(request.url),
      body: SecretRedactor.shared.redact(Self.scrubSecretFields(body)))
    entries.withLock { $0.append(entry) }
  }

  private static let secretField = try! NSRegularExpression(
    pattern: #"("[A-Za-z0-9_]*(?i:password|secret|token|api_?key|authorization)[A-Za-z0-9_]*"\s*:\s*)"(?:[^"\\]|\\.)*""#
  )

  /// `"password": "..."` becomes `"password": "[redacted]"`, also for secrets the vault does not know.
  static func scrubSecretFields(_ text: String) -> String {
    secretField.stringByReplacingMatches(
      in: text, range: NSRange(text.startIndex..., in: text), withTemplate: #"$1"[redacted]""#)
  }

  /// A readable account, one line per request, grouped by system.
  public func summary() -> String {
    let all = self.all
    guard !all.isEmpty else { return "dry run: nothing would have been written" }
    var lines = ["dry run: \(all.count) request(s) would have been sent"]
    for system in Set(all.map(\.system)).sorted() {
      let mine = all.filter { $0.system == system }
      lines.append("  \(system): \(mine.count)")
      for e in mine {
        lines.append("    \(e.method) \(e.url)")
        if !e.body.isEmpty { lines.append("      \(e.body)") }
      }
    }
    return lines.joined(separator: "\n")
  }
}
