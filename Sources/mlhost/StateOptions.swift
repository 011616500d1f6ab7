import ArgumentParser
import Foundation
import MLHostCore
import MLHostStore
import MLHostSystems

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// The state directory, and the running host's admin API found through it.
struct StateOptions: ParsableArguments {
  static let defaultDirectory = ".mlhost"
  static let shortestAdminToken = 16

  @Option(help: "Folder for the host's durable state (SQLite store, credential vault, admin token).")
  var state = StateOptions.defaultDirectory

  var directory: URL { URL(fileURLWithPath: state) }

  func store() throws -> SQLiteStore {
    guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("mlhost.sqlite").path) else {
      throw HostError(.setup, "no store in \(state) (run `mlhost run` first, or pass --state)")
    }
    return try SQLiteStore(directory: directory)
  }

  func vault() throws -> CredentialVault { try CredentialVault(directory: directory) }

  /// The admin token: `MLHOST_ADMIN_TOKEN`, else `<state>/admin.token` (created 0600 when `create`).
  func adminToken(create: Bool) throws -> String {
    // A short token can be guessed over the network; the generated one is 32 characters.
    func strong(_ token: String, from source: String, fix: String) throws -> String {
      guard token.count >= Self.shortestAdminToken else {
        throw HostError(
          .setup, "\(source) is \(token.count) characters; use at least \(Self.shortestAdminToken) (\(fix))")
      }
      return token
    }
    if let t = ProcessInfo.processInfo.environment["MLHOST_ADMIN_TOKEN"], !t.isEmpty {
      return try strong(t, from: "MLHOST_ADMIN_TOKEN", fix: "e.g. `openssl rand -base64 24`")
    }
    let path = directory.appendingPathComponent("admin.token").path
    if let t = try? String(contentsOfFile: path, encoding: .utf8) {
      return try strong(
        t.trimmingCharacters(in: .whitespacesAndNewlines), from: "the token in \(path)",
        fix: "delete the file and `mlhost run` writes a new one")
    }
    guard create else { throw HostError(.setup, "no admin token in \(path) (set MLHOST_ADMIN_TOKEN)") }
    try StateFolder.prepare(directory)
    let token = ByteCodecs.base64(Digest.randomBytes(24), urlSafe: true, padded: false)
    try StateFolder.writePrivate(Data((token + "\n").utf8), to: URL(fileURLWithPath: path))
    return token
  }

  /// What a printed command needs to find this state folder again: nothing for the default one.
  var hint: String { state == Self.defaultDirectory ? "" : " --state \(state)" }

  /// A caller of the running host's admin API, or nil when no host runs on this folder (no `admin.json`, or a
  /// host that is gone without removing it).
  func runningAdmin() async throws -> (@Sendable (String, String, String?) async throws -> (Int, String))? {
    guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("admin.json").path),
      (try? await admin("GET", "/healthz")) != nil
    else { return nil }
    let options = self
    return { method, path, body in try await options.admin(method, path, body: body) }
  }

  /// Calls the running host's admin API.
  func admin(_ method: String, _ path: String, body: String? = nil) async throws -> (Int, String) {
    let info = directory.appendingPathComponent("admin.json")
    guard let data = try? Data(contentsOf: info),
      let base = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["url"] as? String,
      let url = URL(string: base + path)
    else { throw HostError(.setup, "no running host found in \(state) (start `mlhost run`, or pass --state)") }
    var request = URLRequest(url: url)
    request.httpMethod = method
    request.setValue("Bearer \(try adminToken(create: false))", forHTTPHeaderField: "Authorization")
    request.httpBody = body.map { Data($0.utf8) }
    do {
      let (responseBody, response) = try await URLSession.shared.data(for: request)
      return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: responseBody, as: UTF8.self))
    } catch {
      throw HostError(
        .setup,
        "the host at \(base) does not answer (\(error.localizedDescription)); is `mlhost run` still running?")
    }
  }
}
