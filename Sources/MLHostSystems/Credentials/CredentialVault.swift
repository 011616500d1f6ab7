import Foundation
import MLHostCore
import MLHostStore

/// A named secret and what kind of credential it is. Its fields never reach Lua, logs or audit rows.
public struct Credential: Sendable, Equatable {
  public var name: String
  public var type: CredentialType
  public var fields: [String: String]
  public var expiresAt: Double?
  /// The origins (`https://host:port`) the host attaches this credential to; no other, whatever a script asks.
  /// OAuth2 token URLs stored in the credential are part of it and need no entry here.
  public var origins: [String]

  /// Fields that say where and who, not how to prove it: left readable in logs so URLs and user names stay useful.
  static let publicFields: Set<String> = [
    "token_url", "user", "endpoint", "client_id", "audience", "scope", "lifetime", "uppercase_user", "token_header",
    // Adobe Commerce: the admin login's user name and token lifetime, an OAuth signature method ("HMAC-SHA1" hidden
    // would blank Magento's own error about it), and public keys.
    "username", "lifetime_hours", "signature_method", "public_key", "public_key1", "public_key2",
  ]

  /// The values the redactor must hide.
  var secretValues: [String] { fields.filter { !Self.publicFields.contains($0.key) }.map(\.value) }

  /// Secrets shorter than this are easy to guess, and as words they also occur in ordinary text.
  public static let safeSecretLength = 12

  /// The fields whose secret is shorter than `safeSecretLength`, sorted: what `creds set` warns about.
  public var shortSecrets: [String] {
    fields.filter { !Self.publicFields.contains($0.key) && $0.value.count < Self.safeSecretLength }.map(\.key).sorted()
  }

  public init(
    name: String, type: CredentialType, fields: [String: String], origins: [String] = [], expiresAt: Double? = nil
  ) {
    self.name = name
    self.type = type
    self.fields = fields
    self.origins = origins
    self.expiresAt = expiresAt
  }
}

/// The credential vault: `credentials.json` in the state directory, each credential's fields sealed with
/// AES-256-GCM under the master key (from `MLHOST_MASTER_KEY`, else `master.key` created 0600 on first use).
/// Names, types and expiry stay readable so `creds list` needs no key.
public final class CredentialVault: @unchecked Sendable {
  private struct Entry: Codable {
    var type: String
    var sealed: String
    var expiresAt: Double?
    var updatedAt: Double
    /// Readable (for `creds list`), and bound to the sealed fields through the authenticated data, so an edit to
    /// the file cannot send a credential elsewhere.
    var origins: [String]?

    /// The stored type; a name this mlhost does not know (a file from a newer version, an edit) is an error.
    func kind(of name: String) throws -> CredentialType {
      guard let kind = CredentialType(rawValue: type) else {
        throw HostError(.setup, "credential \(name) has type '\(type)', which this mlhost does not know")
      }
      return kind
    }
  }

  /// What `creds list` shows: nothing secret.
  public struct Listing: Sendable {
    public let name: String
    public let type: CredentialType
    public let expiresAt: Double?
    public let origins: [String]
  }

  private let file: URL
  /// `master.key`, unless the key comes from `MLHOST_MASTER_KEY`.
  private let keyFile: URL?
  private let lock = NSLock()
  private var key: [UInt8]
  /// Credentials opened since the file last changed, shared by everything that asks (every outbound request, every
  /// webhook delivery): the file is read and decrypted again only when its identity or modification time changes
  /// (`creds set` in another process replaces it by rename) or this vault writes it.
  private var opened: [String: Credential] = [:]
  private var openedStamp: [Int] = []

  /// Inode, size and modification time of the vault file: what tells that another process replaced it.
  private func stamp() -> [Int] {
    var st = stat()
    guard stat(file.path, &st) == 0 else { return [] }
    return [Int(st.st_ino), Int(st.st_size), Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)]
  }

  public init(directory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
    try StateFolder.prepare(directory)
    file = directory.appendingPathComponent("credentials.json")
    keyFile = environment["MLHOST_MASTER_KEY"] == nil ? directory.appendingPathComponent("master.key") : nil
    key = try Self.masterKey(directory: directory, environment: environment)
  }

  static func decodeKey(_ text: String) -> [UInt8]? {
    let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if let hex = ByteCodecs.fromHex(Array(t.utf8)), hex.count == 32 { return hex }
    if let b64 = ByteCodecs.fromBase64(Array(t.utf8)), b64.count == 32 { return b64 }
    return nil
  }

  private static func masterKey(directory: URL, environment: [String: String]) throws -> [UInt8] {
    if let text = environment["MLHOST_MASTER_KEY"] {
      guard let k = decodeKey(text) else {
        throw HostError(.setup, "MLHOST_MASTER_KEY must be 32 bytes written as hex or base64")
      }
      return k
    }
    let path = directory.appendingPathComponent("master.key").path
    if let text = try? String(contentsOfFile: path, encoding: .utf8) {
      guard let k = decodeKey(text) else { throw HostError(.setup, "\(path) does not hold a 32-byte key") }
      return k
    }
    let k = Digest.randomBytes(32)
    // O_EXCL: two processes starting on a fresh state directory must not each write a key of their own.
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else { throw HostError(.setup, "cannot create \(path): \(String(cString: strerror(errno)))") }
    let text = Array(keyText(k).utf8)
    let written = write(fd, text, text.count)
    close(fd)
    guard written == text.count else {
      unlink(path)
      throw HostError(.setup, "cannot write \(path)")
    }
    return k
  }

  private func load() throws -> [String: Entry] {
    guard let data = try? Data(contentsOf: file) else { return [:] }
    do { return try JSONDecoder().decode([String: Entry].self, from: data) } catch {
      throw HostError(.setup, "\(file.path) is not a credential vault: \(error)")
    }
  }

  private func save(_ entries: [String: Entry]) throws {
    opened = [:]
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try Self.replace(file, with: Self.stage(try encoder.encode(entries), for: file))
  }

  private static func keyText(_ key: [UInt8]) -> String { ByteCodecs.base64(key) + "\n" }

  /// Writes `data`, readable by the owner alone, beside `file` for `replace` to put in its place in one step.
  private static func stage(_ data: Data, for file: URL) throws -> URL {
    let staged = file.appendingPathExtension("new")
    do { try StateFolder.writePrivate(data, to: staged) } catch { throw HostError(.setup, "\(error)") }
    return staged
  }

  private static func replace(_ file: URL, with staged: URL) throws {
    guard rename(staged.path, file.path) == 0 else {
      throw HostError(.setup, "cannot replace \(file.path): \(String(cString: strerror(errno)))")
    }
  }

  /// The authenticated data of a sealed entry: its name, type and origins (a vault written before origins existed
  /// has none, and reads as before).
  private static func aad(_ name: String, _ type: String, _ origins: [String]?) -> [UInt8] {
    let bound = origins.map { $0.isEmpty ? "" : ":" + $0.joined(separator: " ") } ?? ""
    return Array("mlhost-credential:\(name):\(type)\(bound)".utf8)
  }

  /// Stores (or replaces) a credential after checking its type and required fields.
  public func set(_ c: Credential) throws {
    let missing = c.type.requiredFields.filter { (c.fields[$0] ?? "").isEmpty }
    guard missing.isEmpty else {
      throw HostError(
        .input, "a \(c.type) credential needs " + missing.map { "--field \($0)=..." }.joined(separator: " "))
    }
    guard c.name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.".contains($0) }), !c.name.isEmpty else {
      throw HostError(.setup, "credential names are letters, digits, '_', '-' and '.'")
    }
    let origins = try c.origins.map(CredentialOrigin.parse).reduce(into: [String]()) {
      if !$0.contains($1) { $0.append($1) }
    }
    try lock.withLock {
      var entries = try load()
      let plain = try JSONEncoder().encode(c.fields)
      let sealed = try SealedBox.seal(Array(plain), key: key, aad: Self.aad(c.name, c.type.rawValue, origins))
      entries[c.name] = Entry(
        type: c.type.rawValue, sealed: ByteCodecs.base64(sealed), expiresAt: c.expiresAt,
        updatedAt: Date().timeIntervalSince1970, origins: origins.isEmpty ? nil : origins)
      try save(entries)
    }
    SecretRedactor.shared.register(c.secretValues)
  }

  public func get(_ name: String) throws -> Credential? {
    try lock.withLock {
      let now = stamp()
      if now != openedStamp {
        opened = [:]
        openedStamp = now
      }
      if let c = opened[name] { return c }
      guard let e = try load()[name] else { return nil }
      guard let sealed = ByteCodecs.fromBase64(Array(e.sealed.utf8)) else {
        throw HostError(.setup, "credential \(name) is corrupt")
      }
      let plain: [UInt8]
      do { plain = try SealedBox.open(sealed, key: key, aad: Self.aad(name, e.type, e.origins)) } catch {
        throw HostError(.setup, "credential \(name): \(error) (its origins are sealed with it)")
      }
      let fields = try JSONDecoder().decode([String: String].self, from: Data(plain))
      let credential = Credential(
        name: name, type: try e.kind(of: name), fields: fields, origins: e.origins ?? [], expiresAt: e.expiresAt)
      SecretRedactor.shared.register(credential.secretValues)
      opened[name] = credential
      return credential
    }
  }

  /// Names, types, expiry and origins: nothing secret.
  public func list() throws -> [Listing] {
    try lock.withLock {
      try load().map {
        Listing(
          name: $0.key, type: try $0.value.kind(of: $0.key), expiresAt: $0.value.expiresAt,
          origins: $0.value.origins ?? [])
      }
      .sorted { $0.name < $1.name }
    }
  }

  @discardableResult
  public func remove(_ name: String) throws -> Bool {
    try lock.withLock {
      var entries = try load()
      guard entries.removeValue(forKey: name) != nil else { return false }
      try save(entries)
      return true
    }
  }

  /// Re-seals every credential under `newKey` and puts it in `master.key`; with `MLHOST_MASTER_KEY` the caller
  /// hands the new key to whoever sets that.
  public func rotate(to newKey: [UInt8]) throws {
    try lock.withLock {
      var entries = try load()
      for (name, e) in entries {
        guard let sealed = ByteCodecs.fromBase64(Array(e.sealed.utf8)) else { continue }
        let aad = Self.aad(name, e.type, e.origins)
        let plain = try SealedBox.open(sealed, key: key, aad: aad)
        entries[name]?.sealed = ByteCodecs.base64(try SealedBox.seal(plain, key: newKey, aad: aad))
      }
      // The new key is on disk before anything is sealed under it: a vault whose key is lost cannot be read.
      let stagedKey: URL?
      do {
        stagedKey = try keyFile.map { try Self.stage(Data(Self.keyText(newKey).utf8), for: $0) }
      } catch {
        throw HostError(.setup, "\(error); the vault is unchanged")
      }
      try save(entries)
      key = newKey
      guard let keyFile, let stagedKey else { return }
      do {
        try Self.replace(keyFile, with: stagedKey)
      } catch {
        throw HostError(.setup, "the vault is re-encrypted, but \(error): move \(stagedKey.path) there")
      }
    }
  }

  /// Registers every stored secret with the redactor, so none can reach a log line.
  public func registerSecrets() throws {
    for entry in try list() { _ = try get(entry.name) }
  }
}
