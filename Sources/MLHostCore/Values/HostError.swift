/// The one error the host's Swift layers throw: what kind of failure it is, whether trying again can help, where
/// it points (a line of a settings file or a script), and the detail for a person, never a secret. A native that
/// meets one answers Lua `nil, token, {message=, retryable=}`; the CLI prints its description.
public struct HostError: Error, CustomStringConvertible, Sendable, Equatable {
  public enum Kind: String, Sendable {
    /// A value that is not what it must be: a decimal, a date, a cron line, TOML, JSON, a settings value.
    case input
    /// The host's own set-up: the state folder and its lock, the vault, the master key.
    case setup
    /// A credential that cannot be used: unknown, unsigned, refused by a token endpoint.
    case auth
    /// The store (SQLite) failed.
    case store
    /// A script misused the host's API (a wrong argument, an unknown option, a call where it cannot run): raised
    /// in Lua at the calling line, never returned as `nil, token`, since the same code fails the same way however
    /// often it is retried. A token other than `script` raises it structured, `{kind = token, message =,
    /// retryable =}`, for the runtime to classify (`read_only`: no retry can cure it).
    case script
    /// The world did not answer a request: a timeout, a refused connection, DNS, TLS (the token says which).
    case network
    /// What was named does not exist: a connector, a job, a record.
    case notFound = "not_found"
  }

  public let kind: Kind
  /// The word a script sees after `nil`: the kind's name unless the failure has a more precise one (a token
  /// endpoint that timed out says `timeout`).
  public let token: String
  public let retryable: Bool
  /// The line it points at, in `file` when there is one (a TOML file's line, a script's).
  public let line: Int?
  public let file: String?
  public let detail: String

  public init(
    _ kind: Kind, _ detail: String, token: String? = nil, retryable: Bool = false, file: String? = nil, line: Int? = nil
  ) {
    self.kind = kind
    self.detail = detail
    self.token = token ?? kind.rawValue
    self.retryable = retryable
    self.file = file
    self.line = line
  }

  /// A script's misuse of a native, raised at the calling line.
  public static func misuse(_ detail: String, token: String? = nil) -> HostError {
    HostError(.script, detail, token: token)
  }

  /// "bad argument #n to 'native' (message)", in Lua's own words.
  public static func argument(_ n: Int32, _ native: String, _ message: String) -> HostError {
    HostError(.script, "bad argument #\(n) to '\(native)' (\(message))")
  }

  /// `file:line: detail`, `line N: detail` or the detail alone.
  public var description: String {
    switch (file, line) {
    case (let file?, let line?): "\(file):\(line): \(detail)"
    case (nil, let line?): "line \(line): \(detail)"
    case (let file?, nil): "\(file): \(detail)"
    case (nil, nil): detail
    }
  }
}
