import Foundation

/// Every secret value the host knows, replaced by `[redacted]` wherever text leaves the process (logs, audit
/// rows, error messages, dry-run journals).
public final class SecretRedactor: @unchecked Sendable {
  public static let shared = SecretRedactor()
  private let lock = NSLock()
  private var secrets: Set<String> = []
  /// Tokens the host minted or was issued (access tokens, JWTs): they expire, so only the latest are kept and a
  /// long run does not make every redaction slower.
  private var ephemeral: [String] = []
  static let ephemeralKept = 256

  /// A redactor of its own (the host uses `shared`).
  public init() {}

  public func register<S: Sequence>(_ values: S) where S.Element == String {
    lock.withLock {
      // Short values (a port, "admin") would redact ordinary words; they are not secrets worth the noise.
      for v in values where v.count >= 4 { secrets.insert(v) }
    }
  }

  public func register(ephemeral token: String) {
    guard token.count >= 4 else { return }
    lock.withLock {
      guard !ephemeral.contains(token) else { return }
      ephemeral.append(token)
      if ephemeral.count > Self.ephemeralKept { ephemeral.removeFirst() }
    }
  }

  /// `text` with every secret replaced where it stands as a whole token: not where it is part of a longer word
  /// (the password "admin" leaves "administrator" alone), so short secrets do not garble ordinary text.
  public func redact(_ text: String) -> String {
    let (kept, minted) = lock.withLock { (secrets, ephemeral) }
    guard !kept.isEmpty || !minted.isEmpty else { return text }
    var out = text
    for s in kept.sorted(by: { $0.count > $1.count }) + minted where out.contains(s) {
      out = Self.replaceTokens(s, in: out)
    }
    return out
  }

  /// Letters, digits and `_` continue a word; anything else (space, quote, `:`, `@`, `=`…) ends it.
  static func continuesWord(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }

  static func replaceTokens(_ secret: String, in text: String) -> String {
    var out = ""
    var rest = text[...]
    while let r = rest.range(of: secret) {
      let before = r.lowerBound > rest.startIndex ? rest[rest.index(before: r.lowerBound)] : nil
      let after = r.upperBound < rest.endIndex ? rest[r.upperBound] : nil
      let whole = !(before.map(continuesWord) ?? false) && !(after.map(continuesWord) ?? false)
      out += rest[..<r.lowerBound]
      out += whole ? "[redacted]" : rest[r]
      rest = rest[r.upperBound...]
    }
    return out + rest
  }
}
