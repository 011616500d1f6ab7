import Foundation
import MLHostCore
import Synchronization

/// Applies stored credentials to requests, natively: scripts name a credential and never see its secret. Tokens
/// are fetched once for all concurrent requests, refreshed before they expire, rotated refresh tokens are stored
/// back in the vault, and a 401 causes exactly one refresh and retry.
public final class Authenticator: @unchecked Sendable {
  private let vault: CredentialVault
  fileprivate let client: HTTPClient
  fileprivate let now: @Sendable () -> Double
  private let tokens = TokenCache()
  /// Refresh this many seconds before a token expires, at most: a token shorter than that is refreshed once
  /// `refreshFraction` of its lifetime is left instead, so a 30 s token serves 24 s rather than being fetched anew
  /// for every request.
  public var refreshMargin: Double = 60
  /// The share of a token's lifetime left when it is refreshed, where that is sooner than `refreshMargin`.
  public var refreshFraction: Double = 0.2

  public init(
    vault: CredentialVault, client: HTTPClient = .shared,
    now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
  ) {
    self.vault = vault
    self.client = client
    self.now = now
  }

  /// Sends `request` with credential `name` applied. `refreshed` hears of each token the host fetched for it
  /// (the first, one about to expire, or one forced by a 401), with the reason.
  public func send(
    _ request: HTTPRequest, credential name: String, refreshed: @escaping @Sendable (String) -> Void = { _ in }
  ) async -> Result<HTTPResponse, HostError> {
    await withCheckedContinuation { c in
      send(request, credential: name, refreshed: refreshed) { c.resume(returning: $0) }
    }
  }

  /// The same, answering `done` on the thread that finished: a request whose credential is at hand (any but a
  /// token to fetch) is signed and leaves from the calling thread, and its answer comes from curl's.
  public func send(
    _ request: HTTPRequest, credential name: String, refreshed: @escaping @Sendable (String) -> Void,
    then done: @escaping @Sendable (Result<HTTPResponse, HostError>) -> Void
  ) {
    let credential: Credential
    let unsigned: HTTPRequest
    var signed: HTTPRequest
    do {
      (credential, unsigned) = try prepare(request, credential: name)
      signed = unsigned
      guard try applyNow(credential, to: &signed) else {
        Task { done(await Self.failing { try await sendFetchingToken(unsigned, credential, refreshed) }) }
        return
      }
    } catch {
      return done(.failure(Self.authFailure(error)))
    }
    client.send(signed) { [self] first in
      guard Self.refused(first, credential) else { return done(first) }
      Task { done(await Self.failing { try await resend(unsigned, credential, refreshed) }) }
    }
  }

  /// The credential and the request it may go out with: bound to its origins, checked here, where every
  /// credential is attached, so neither a script's URL nor a system it declares can send it anywhere else.
  /// Redirects are not followed (HTTPClient), so no hop escapes.
  private func prepare(_ request: HTTPRequest, credential name: String) throws -> (Credential, HTTPRequest) {
    guard let credential = try vault.get(name) else {
      throw HostError(.auth, "no credential named '\(name)' (mlhost creds set \(name) ...)")
    }
    if let refused = credential.refusal(toward: request.url) { throw HostError(.auth, refused) }
    var request = request
    if let embedded = request.embeddedSecret {
      guard let secret = try vault.get(embedded.credential) else {
        throw HostError(
          .auth, "no credential named '\(embedded.credential)' (mlhost creds set \(embedded.credential) ...)")
      }
      if let refused = secret.refusal(toward: request.url) { throw HostError(.auth, refused) }
      guard let value = secret.fields["secret"], let body = request.body, body.last == UInt8(ascii: "}") else {
        throw HostError(.auth, "credential '\(embedded.credential)' has no secret to send")
      }
      request.body = Self.adding(embedded.key, value, to: body)
      request.embeddedSecret = nil
    }
    return (credential, request)
  }

  /// A first send that must fetch its token.
  private func sendFetchingToken(
    _ request: HTTPRequest, _ credential: Credential, _ refreshed: @escaping @Sendable (String) -> Void
  ) async throws -> Result<HTTPResponse, HostError> {
    var signed = request
    try await apply(credential, to: &signed, force: false) { refreshed("no valid token") }
    let first = await client.send(signed)
    guard Self.refused(first, credential) else { return first }
    return try await resend(request, credential, refreshed)
  }

  /// One refresh and one retry after a 401: a second 401 is the answer, never a loop.
  private func resend(
    _ request: HTTPRequest, _ credential: Credential, _ refreshed: @escaping @Sendable (String) -> Void
  ) async throws -> Result<HTTPResponse, HostError> {
    var retry = request
    try await apply(credential, to: &retry, force: true) { refreshed("401 from the server") }
    return await client.send(retry)
  }

  /// A 401 to a credential whose token the host fetches: the token is fetched anew and the request sent again.
  private static func refused(_ answer: Result<HTTPResponse, HostError>, _ credential: Credential) -> Bool {
    guard case .success(let r) = answer else { return false }
    return r.status == 401 && credential.type.refreshable
  }

  private static func failing(
    _ body: () async throws -> Result<HTTPResponse, HostError>
  ) async -> Result<HTTPResponse, HostError> {
    do { return try await body() } catch { return .failure(authFailure(error)) }
  }

  private static func authFailure(_ error: any Error) -> HostError {
    error as? HostError ?? HostError(.auth, "\(error)")
  }

  /// `object` (JSON text of an object) with `"key": value` added as its last member.
  static func adding(_ key: String, _ value: String, to object: [UInt8]) -> [UInt8] {
    var out = Array(object.dropLast())
    let empty = out.drop { $0 == UInt8(ascii: " ") }.count == 1  // just "{"
    if !empty { out.append(UInt8(ascii: ",")) }
    JSONText.appendString(key, to: &out)
    out.append(UInt8(ascii: ":"))
    JSONText.appendString(value, to: &out)
    out.append(UInt8(ascii: "}"))
    return out
  }

  /// Applies `c` to `request`, fetching its token first when it needs one (or anew, with `force`).
  func apply(_ c: Credential, to request: inout HTTPRequest, force: Bool, fetched: @escaping @Sendable () -> Void = {})
    async throws
  {
    if !force, try applyNow(c, to: &request) { return }
    let token = try await tokens.token(
      for: c.name, force: force, now: now(), margin: refreshMargin, fraction: refreshFraction
    ) { [self] in
      fetched()
      return try await fetchToken(for: c)
    }
    Self.add(token, of: c, to: &request)
  }

  /// Applies `c` to `request` with what is at hand: false, and `request` untouched, when `c` needs a token that is
  /// not cached (or about to expire).
  func applyNow(_ c: Credential, to request: inout HTTPRequest) throws -> Bool {
    let f = c.fields
    switch c.type {
    case .basic:
      var user = f["user"] ?? ""
      if f["uppercase_user"] == "true" { user = user.uppercased() }  // Sage 300 user ids
      request.headers.append(("Authorization", Self.basic(user, f["password"] ?? "")))
    case .shopify_token:
      request.headers.append(("X-Shopify-Access-Token", f["access_token"] ?? ""))
    case .woocommerce:
      if request.url.lowercased().hasPrefix("https://") {
        request.headers.append(("Authorization", Self.basic(f["consumer_key"] ?? "", f["consumer_secret"] ?? "")))
      } else {
        // Plain HTTP: one-legged OAuth 1.0a, parameters in the query.
        guard
          let signed = OAuth1.sign(
            method: request.method, url: request.url, consumerKey: f["consumer_key"] ?? "",
            consumerSecret: f["consumer_secret"] ?? "", token: nil, tokenSecret: nil, nonce: Self.nonce(),
            timestamp: Int(now()))
        else { throw HostError(.auth, "cannot sign \(request.url)") }
        let query = signed.parameters.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&")
        request.url += (request.url.contains("?") ? "&" : "?") + query
      }
    case .oauth1:
      // HMAC-SHA1 only where the credential says so (Adobe Commerce up to 2.4.3); 2.4.4 and later refuse it.
      let algorithm: Digest.Algorithm
      switch f["signature_method"] ?? "HMAC-SHA256" {
      case "HMAC-SHA256", "": algorithm = .sha256
      case "HMAC-SHA1": algorithm = .sha1
      case let other:
        throw HostError(
          .auth,
          "credential '\(c.name)': signature_method \(other) is not HMAC-SHA256 or HMAC-SHA1")
      }
      guard
        let signed = OAuth1.sign(
          method: request.method, url: request.url, consumerKey: f["consumer_key"] ?? "",
          consumerSecret: f["consumer_secret"] ?? "", token: f["token"], tokenSecret: f["token_secret"],
          nonce: Self.nonce(), timestamp: Int(now()), algorithm: algorithm)
      else { throw HostError(.auth, "cannot sign \(request.url)") }
      request.headers.append(("Authorization", signed.header))
    case .bearer:
      // A standing token: an Adobe Commerce integration's access token used as a bearer (2.4.4+, when the store
      // allows it), or any API key sent that way.
      request.headers.append(("Authorization", "Bearer \(f["token"] ?? "")"))
    case .adobe_admin, .x3_jwt, .oauth2_client_credentials, .oauth2_refresh_token:
      guard
        let token = tokens.cached(for: c.name, now: now(), margin: refreshMargin, fraction: refreshFraction)
      else { return false }
      Self.add(token, of: c, to: &request)
    case .webhook_secret, .adobe_webhook_key, .adobe_io_events:
      throw HostError(.auth, "credential '\(c.name)' of type \(c.type) cannot sign requests")
    }
    return true
  }

  /// The headers that carry an access token.
  private static func add(_ token: String, of c: Credential, to request: inout HTTPRequest) {
    switch c.type {
    case .x3_jwt:
      request.headers.append(("Authorization", "Bearer \(token)"))
      if !request.headers.contains(where: { $0.0.lowercased() == "x-xtrem-endpoint" }) {  // the client may name it
        request.headers.append(("x-xtrem-endpoint", c.fields["endpoint"] ?? ""))
      }
    case .oauth2_client_credentials, .oauth2_refresh_token:
      if let header = c.fields["token_header"], !header.isEmpty {
        request.headers.append((header, token))  // Shopify: X-Shopify-Access-Token
      } else {
        request.headers.append(("Authorization", "Bearer \(token)"))
      }
    default:
      request.headers.append(("Authorization", "Bearer \(token)"))
    }
  }

  /// A new access token for `c` and when it expires.
  private func fetchToken(for c: Credential) async throws -> (String, Double) {
    switch c.type {
    case .adobe_admin:
      // POST /V1/integration/admin/token answers a bare JSON string valid `lifetime_hours` (Magento's default 4 h).
      return try await fetchAdminToken(c)
    case .x3_jwt:
      let f = c.fields
      let lifetime = Int(f["lifetime"] ?? "") ?? 300
      let iat = Int(now())
      let token = JWT.hs256(
        issuer: f["client_id"] ?? "", subject: f["user"] ?? "", audience: f["audience"] ?? "", issuedAt: iat,
        lifetime: lifetime, secret: f["secret"] ?? "")
      SecretRedactor.shared.register(ephemeral: token)
      return (token, Double(iat + lifetime))
    default:
      return try await fetchOAuth2Token(c)
    }
  }

  /// A Basic header; its encoded form is as good as the password, so the redactor learns it too.
  static func basic(_ user: String, _ password: String) -> String {
    let encoded = ByteCodecs.base64(Array("\(user):\(password)".utf8))
    SecretRedactor.shared.register([encoded])
    return "Basic " + encoded
  }

  static func nonce() -> String { ByteCodecs.hex(Digest.randomBytes(16)) }

  /// Asks the token endpoint for an access token; a rotated refresh token is stored back before it is used.
  private func fetchOAuth2Token(_ c: Credential) async throws -> (String, Double) {
    let f = c.fields
    var form: [(String, String)] = [("client_id", f["client_id"] ?? ""), ("client_secret", f["client_secret"] ?? "")]
    if c.type == .oauth2_refresh_token {
      // The vault may hold a newer refresh token than `c` (rotated by an earlier refresh).
      let current = (try? vault.get(c.name))?.fields["refresh_token"] ?? f["refresh_token"] ?? ""
      form += [("grant_type", "refresh_token"), ("refresh_token", current)]
    } else {
      form.append(("grant_type", "client_credentials"))
    }
    if let scope = f["scope"], !scope.isEmpty { form.append(("scope", scope)) }
    var request = HTTPRequest(method: "POST", url: f["token_url"] ?? "")
    request.headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")]
    request.body = Array(form.map { "\(percentEncode($0.0))=\(percentEncode($0.1))" }.joined(separator: "&").utf8)
    let response: HTTPResponse
    switch await client.send(request) {
    case .failure(let e): throw HostError(.auth, "token endpoint: \(e.detail)", token: e.token)
    case .success(let r): response = r
    }
    guard response.status == 200,
      let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
      let access = object["access_token"] as? String
    else {
      throw HostError(.auth, "token endpoint answered \(response.status)")
    }
    SecretRedactor.shared.register(ephemeral: access)
    let expiresIn = (object["expires_in"] as? NSNumber)?.doubleValue ?? 3600
    if let rotated = object["refresh_token"] as? String, rotated != f["refresh_token"] {
      var updated = c
      updated.fields["refresh_token"] = rotated
      updated.expiresAt = now() + expiresIn
      try vault.set(updated)
    }
    return (access, now() + expiresIn)
  }
}

extension Authenticator {
  /// An Adobe Commerce admin token: `{"username","password"}` to `token_url` (…/V1/integration/admin/token, or
  /// …/V1/tfa/provider/google/authenticate with `otp` where 2FA applies), answered with a bare JSON string.
  fileprivate func fetchAdminToken(_ c: Credential) async throws -> (String, Double) {
    let f = c.fields
    var body: [UInt8] = Array(#"{"username":"#.utf8)
    JSONText.appendString(f["username"] ?? "", to: &body)
    body += Array(#","password":"#.utf8)
    JSONText.appendString(f["password"] ?? "", to: &body)
    if let otp = f["otp"], !otp.isEmpty {
      body += Array(#","otp":"#.utf8)
      JSONText.appendString(otp, to: &body)
    }
    body += Array("}".utf8)
    var request = HTTPRequest(method: "POST", url: f["token_url"] ?? "")
    request.headers = [("Content-Type", "application/json"), ("Accept", "application/json")]
    request.body = body
    let response: HTTPResponse
    switch await client.send(request) {
    case .failure(let e): throw HostError(.auth, "admin token endpoint: \(e.detail)", token: e.token)
    case .success(let r): response = r
    }
    guard response.status == 200,
      let token = (try? JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed]))
        as? String,
      !token.isEmpty
    else { throw HostError(.auth, "admin token endpoint answered \(response.status)") }
    SecretRedactor.shared.register(ephemeral: token)
    let hours = Double(f["lifetime_hours"] ?? "") ?? 4
    return (token, now() + hours * 3600)
  }
}

/// Access tokens by credential, with one fetch at a time per credential. A fresh token is read without waiting
/// for the actor, so a request whose token is at hand leaves at once.
actor TokenCache {
  private let tokens = Mutex<[String: (value: String, expires: Double, lifetime: Double)]>([:])
  private var inFlight: [String: Task<(String, Double), any Error>] = [:]

  /// The token of `name` unless it is about to lapse: refreshed `margin` seconds before it expires, or with
  /// `fraction` of its lifetime left when that is sooner (a token shorter than the margin is not refetched for
  /// every request).
  nonisolated func cached(for name: String, now: Double, margin: Double, fraction: Double) -> String? {
    guard let t = tokens.withLock({ $0[name] }), t.expires - now > min(margin, t.lifetime * fraction) else {
      return nil
    }
    return t.value
  }

  func token(
    for name: String, force: Bool, now: Double, margin: Double, fraction: Double,
    fetch: @escaping @Sendable () async throws -> (String, Double)
  ) async throws -> String {
    if !force, let t = cached(for: name, now: now, margin: margin, fraction: fraction) { return t }
    if let running = inFlight[name] { return try await running.value.0 }
    let task = Task { try await fetch() }
    inFlight[name] = task
    defer { inFlight[name] = nil }
    let fresh = try await task.value
    tokens.withLock { $0[name] = (fresh.0, fresh.1, max(0, fresh.1 - now)) }
    return fresh.0
  }
}
