import Foundation
import Logging

/// Log lines for people (`text`) or machines (`json`, one object a line), written to standard error.
public struct LineLogHandler: LogHandler {
  public enum Format: String, Sendable, CaseIterable {
    case text, json
  }

  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level = .info
  private let label: String
  private let format: Format
  private let sink: LogSink

  public init(label: String, format: Format, sink: LogSink = .standardError) {
    self.label = label
    self.format = format
    self.sink = sink
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var all = metadata
    if let extra = event.metadata { all.merge(extra) { $1 } }
    let time = Self.timestamp()
    switch format {
    case .text:
      let fields = all.sorted { $0.key < $1.key }.filter { $0.key != "traceback" }
        .map { "\($0.key)=\(Self.text($0.value))" }.joined(separator: " ")
      var line =
        "\(time) \(event.level.rawValue.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0))\(event.message)"
      if !fields.isEmpty { line += "  " + fields }
      if case .string(let tb)? = all["traceback"] { line += "\n" + tb }
      sink.write(SecretRedactor.shared.redact(line) + "\n")
    case .json:
      var object: [String: Logger.MetadataValue] = all
      object["ts"] = .string(time)
      object["level"] = .string(event.level.rawValue)
      object["msg"] = .string("\(event.message)")
      sink.write(SecretRedactor.shared.redact(Self.json(.dictionary(object))) + "\n")
    }
  }

  static func timestamp() -> String {
    (try? Timestamp.format((Date().timeIntervalSince1970 * 1000).rounded() / 1000)) ?? ""
  }

  static func text(_ v: Logger.MetadataValue) -> String {
    switch v {
    case .string(let s): return s.contains(" ") || s.isEmpty ? "\"\(s)\"" : s
    case .stringConvertible(let c): return c.description
    case .array, .dictionary: return json(v)
    }
  }

  static func json(_ v: Logger.MetadataValue) -> String {
    switch v {
    case .string(let s): return JSONText.quoted(s)
    case .stringConvertible(let c):
      if let i = c as? Int { return "\(i)" }
      if let i = c as? Int64 { return "\(i)" }
      if let b = c as? Bool { return b ? "true" : "false" }
      if let d = c as? Double, d.isFinite { return "\(d)" }
      return JSONText.quoted(c.description)
    case .array(let items): return "[" + items.map(json).joined(separator: ",") + "]"
    case .dictionary(let d):
      return "{"
        + d.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + json($0.value) }.joined(separator: ",")
        + "}"
    }
  }
}

/// Where log lines go: standard error, or a buffer that tests read.
public final class LogSink: @unchecked Sendable {
  private let lock = NSLock()
  private var captured: [String]?

  public static let standardError = LogSink(capture: false)

  public init(capture: Bool) { captured = capture ? [] : nil }

  func write(_ line: String) {
    lock.withLock {
      if captured != nil {
        captured!.append(line)
      } else {
        FileHandle.standardError.write(Data(line.utf8))
      }
    }
  }

  /// The lines written so far, when capturing.
  public var lines: [String] { lock.withLock { captured ?? [] } }
}
