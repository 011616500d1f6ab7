/// An error raised by Lua code, with the script position it blames and the traceback.
public struct LuaError: Error, CustomStringConvertible, Sendable {
  /// The message as Lua produced it, usually prefixed with `file:line:`.
  public let message: String
  public let traceback: String
  /// Whether the error was a memory-limit failure (LUA_ERRMEM).
  public let outOfMemory: Bool
  /// The error object when the script raised a table (a structured error such as `{kind=..., retryable=...}`).
  public let value: LuaValue?
  /// Whether the job was stopped by one of its limits (instructions, CPU time, memory): never worth a retry.
  public private(set) var limitExceeded = false

  /// Longest message and traceback kept: a script can raise a string of any size, and every error lands in logs
  /// and the store.
  public static let maxMessageBytes = 4096
  public static let maxTracebackBytes = 8192

  public init(message: String, traceback: String = "", outOfMemory: Bool = false, value: LuaValue? = nil) {
    self.message = Self.truncated(message, to: Self.maxMessageBytes)
    self.traceback = Self.truncated(traceback, to: Self.maxTracebackBytes)
    self.outOfMemory = outOfMemory
    self.value = value
  }

  /// The same error, marked as a limit breach.
  public func byLimit() -> LuaError {
    var e = self
    e.limitExceeded = true
    return e
  }

  /// `file` and `line` parsed from a `file:line: message` prefix, when there is one.
  public var location: (file: String, line: Int)? {
    guard let (file, line, _) = Self.split(message) else { return nil }
    return (file, line)
  }

  /// The message without its `file:line:` prefix.
  public var reason: String { Self.split(message)?.2 ?? message }

  public var description: String { message }

  /// `text` cut to at most `limit` bytes of UTF-8 (a character cut in two is repaired), saying how much was cut.
  public static func truncated(_ text: String, to limit: Int) -> String {
    let count = text.utf8.count
    guard count > limit else { return text }
    return String(decoding: text.utf8.prefix(limit), as: UTF8.self) + "… (\(count - limit) more bytes cut)"
  }

  static func split(_ message: String) -> (String, Int, String)? {
    // "path/to/file.lua:12: text"; the path may itself contain ':' only on Windows, which we do not run on.
    let parts = message.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
    guard parts.count == 3, let line = Int(parts[1]), !parts[0].isEmpty else { return nil }
    return (String(parts[0]), line, parts[2].drop(while: { $0 == " " }).description)
  }
}
