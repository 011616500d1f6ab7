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
