/// An error raised by Lua code, with the script position it blames and the traceback.
public struct LuaError: Error, CustomStringConvertible, Sendable {
  /// The message as Lua produced it, usually prefixed with `file:line:`.
  public let message: String
  public let traceback: String
  /// Whether the error was a memory-limit failure (LUA_ERRMEM).
  public let outOfMemory: Bool
  /// The error object when the script raised a table (a structured error such as `{kind=..., retryable=...}`).
  public let value: LuaValue?
  /// What kind of failure this is, which decides whether a retry can help.
  public enum Kind: String, Sendable {
    /// A mistake in the script (an error it raised as a string, a native it misused, a Lua runtime error):
    /// retrying the same code fails the same way; a reload or a replay runs it again.
    case script
    /// The job was stopped by one of its limits (instructions, CPU time, memory).
    case limit
    /// A structured error the script or a system client raised (`{kind=, retryable=, ...}`).
    case raised
    /// A failure of the host or the world around it (the store, a version unloaded): worth retrying.
    case host
  }

  public private(set) var kind: Kind

  /// Whether the job was stopped by one of its limits: never worth a retry.
  public var limitExceeded: Bool { kind == .limit }

  /// Longest message and traceback kept: a script can raise a string of any size, and every error lands in logs
  /// and the store.
  public static let maxMessageBytes = 4096
  public static let maxTracebackBytes = 8192

  public init(message: String, traceback: String = "", outOfMemory: Bool = false, value: LuaValue? = nil) {
    self.message = Self.truncated(message, to: Self.maxMessageBytes)
    self.traceback = Self.truncated(traceback, to: Self.maxTracebackBytes)
    self.outOfMemory = outOfMemory
    kind = outOfMemory ? .limit : value != nil ? .raised : .host
    self.value = value
  }

  /// The same error, of another kind.
  public func of(kind: Kind) -> LuaError {
    var e = self
    e.kind = kind
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
