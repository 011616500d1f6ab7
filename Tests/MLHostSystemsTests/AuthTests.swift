import Foundation
import Hummingbird
import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostSystems
import MLHostTesting
import Synchronization
import Testing

@Suite struct AuthVectorTests {
  /// The value of `name` in an `OAuth k="v", ...` header or a query string, percent-decoded.
  static func param(_ name: String, in text: String) -> String? {
    let pattern = #"\#(name)=\"?([^\",&]*)"#
    guard let r = text.range(of: pattern, options: .regularExpression) else { return nil }
    return String(text[r].dropFirst(name.count + 1)).replacingOccurrences(of: "\"", with: "").removingPercentEncoding
  }

  @Test func adobeOAuth1MatchesOauthlib() throws {
    let v = try Vectors.auth()
    let signed = try #require(
      OAuth1.sign(
        method: "GET", url: v["adobe_url"]!, consumerKey: "ck123", consumerSecret: "cs&456", token: "tok789",
        tokenSecret: "ts/012", nonce: "nonce-abc", timestamp: 1_736_690_531))
    #expect(
      Self.param("oauth_signature", in: signed.header) == Self.param("oauth_signature", in: v["adobe_authorization"]!))
    #expect(signed.header.contains(#"oauth_signature_method="HMAC-SHA256""#))
  }

  @Test func wooCommerceOneLeggedMatchesOauthlib() throws {
    let v = try Vectors.auth()
    let signed = try #require(
      OAuth1.sign(
        method: "GET", url: "http://woo.example.com/wp-json/wc/v3/orders?per_page=100&after=2025-01-01T00%3A00%3A00",
        consumerKey: "ck_woo", consumerSecret: "cs_woo", token: nil, tokenSecret: nil, nonce: "nonce-woo",
        timestamp: 1_736_690_531))
    let ours = signed.parameters.first { $0.0 == "oauth_signature" }?.1
    #expect(ours == Self.param("oauth_signature", in: v["woo_signed_url"]!))
  }

  @Test func x3JWTMatchesPythonHMAC() throws {
    let v = try Vectors.auth()
    #expect(
      JWT.hs256(
        issuer: "app-id", subject: "ADMIN", audience: "", issuedAt: 1_736_690_531, lifetime: 300,
        secret: "x3-secret") == v["jwt"])
  }
}

/// A token endpoint and a protected resource, both counting what they see.
final class TokenServer: Sendable {
  struct State {
    var issued = 0
    var current = ""
    var refreshToken = "r0"
    var protectedCalls = 0
    var lastAuthorization = ""
    var alwaysUnauthorized = false
  }

  let state = Mutex(State())
  let rotate: Bool

  init(rotate: Bool) { self.rotate = rotate }

  func router() -> Router<BasicRequestContext> {
    let router = Router()
    router.post("/token") { [self] request, _ -> Response in
      var request = request
      let form = String(buffer: try await request.collectBody(upTo: 1 << 16))
      let body: String = state.withLock { s in
        if rotate {
          guard form.contains("refresh_token=\(s.refreshToken)") else { return #"{"error":"invalid_grant"}"# }
        }
        s.issued += 1
        s.current = "access-\(s.issued)"
        let refresh = rotate ? #","refresh_token":"r\#(s.issued)""# : ""
        if rotate { s.refreshToken = "r\(s.issued)" }
        return #"{"access_token":"\#(s.current)","expires_in":300\#(refresh)}"#
      }
      let ok = body.contains("access_token")
      return Response(
        status: ok ? .ok : .badRequest, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: body)))
    }
    router.get("/protected") { [self] request, _ -> Response in
      let auth = request.headers[.authorization] ?? ""
      let ok: Bool = state.withLock { s in
        s.protectedCalls += 1
        s.lastAuthorization = auth
        return !s.alwaysUnauthorized && auth == "Bearer \(s.current)"
      }
      return Response(status: ok ? .ok : .unauthorized)
    }
    router.get("/echo-auth") { request, _ -> Response in
      Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: request.headers[.authorization] ?? "")))
    }
    return router
  }
}

@Suite(.serialized) struct AuthenticatorTests {
  func setUp(rotate: Bool = false) async throws -> (
    LocalServer, TokenServer, CredentialVault, Authenticator, ManualClock, URL
  ) {
    let tokens = TokenServer(rotate: rotate)
    let server = try await LocalServer.start(tokens.router())
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-auth-\(UUID().uuidString)")
    let vault = try CredentialVault(directory: dir)
    let clock = ManualClock()
    let auth = Authenticator(vault: vault, now: { clock.now })
    return (server, tokens, vault, auth, clock, dir)
  }

  /// The vault keeps what it opened (no read and decrypt per request), and sees at once what another process
  /// (`mlhost creds set`) writes to its file.
  @Test func theVaultKeepsOpenedCredentialsUntilItsFileChanges() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-vault-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let host = try CredentialVault(directory: dir)
    let operatorCLI = try CredentialVault(directory: dir)
    try operatorCLI.set(Credential(name: "hook", type: .webhook_secret, fields: ["secret": "first-secret-value"]))
    #expect(try host.get("hook")?.fields["secret"] == "first-secret-value")
    #expect(try host.get("hook")?.fields["secret"] == "first-secret-value")  // from what it opened
    try operatorCLI.set(Credential(name: "hook", type: .webhook_secret, fields: ["secret": "second-secret-value"]))
    // A file replaced by another process is read again.
    #expect(try host.get("hook")?.fields["secret"] == "second-secret-value")
    #expect(try operatorCLI.remove("hook"))
    #expect(try host.get("hook") == nil)
  }

  @Test func basicAuthUppercasesSage300Users() async throws {
    let (server, _, vault, auth, _, dir) = try await setUp()
    defer {
      server.stop()
      try? FileManager.default.removeItem(at: dir)
    }
    try vault.set(
      Credential(
        name: "s300", type: .basic, fields: ["user": "admin", "password": "Pw", "uppercase_user": "true"],
        origins: [server.url]))
    let r = try await auth.send(MLHostSystems.HTTPRequest(url: server.url + "/echo-auth"), credential: "s300").get()
    #expect(String(decoding: r.body, as: UTF8.self) == "Basic " + ByteCodecs.base64(Array("ADMIN:Pw".utf8)))
  }

  @Test func clientCredentialsFetchOnceRefreshEarlyAndRetryOnce401() async throws {
    let (server, tokens, vault, auth, clock, dir) = try await setUp()
    defer {
      server.stop()
      try? FileManager.default.removeItem(at: dir)
    }
    try vault.set(
      Credential(
        name: "cc", type: .oauth2_client_credentials,
        fields: [
          "token_url": server.url + "/token", "client_id": "id", "client_secret": "secret-value",
        ], origins: [server.url]))
    let request = MLHostSystems.HTTPRequest(url: server.url + "/protected")
    // Twenty requests at once share one token fetch.
    let statuses = await withTaskGroup(of: Int.self) { group in
      for _ in 0..<20 { group.addTask { (try? await auth.send(request, credential: "cc").get().status) ?? 0 } }
      return await group.reduce(into: []) { $0.append($1) }
    }
    #expect(statuses == Array(repeating: 200, count: 20))
    #expect(tokens.state.withLock { $0.issued } == 1)
    // 300 s tokens are refreshed 60 s before they lapse, not after.
    clock.advance(230)
    _ = await auth.send(request, credential: "cc")
    #expect(tokens.state.withLock { $0.issued } == 1)
    clock.advance(20)
    _ = await auth.send(request, credential: "cc")
    #expect(tokens.state.withLock { $0.issued } == 2)
    // The server revokes the token: one refresh, one retry, success.
    tokens.state.withLock { $0.current = "revoked" }
    let before = tokens.state.withLock { $0.protectedCalls }
    #expect(try await auth.send(request, credential: "cc").get().status == 200)
    #expect(tokens.state.withLock { $0.protectedCalls } == before + 2)
    #expect(tokens.state.withLock { $0.issued } == 3)
    // A server that always says 401: exactly one retry, never a loop.
    tokens.state.withLock { $0.alwaysUnauthorized = true }
    let calls = tokens.state.withLock { $0.protectedCalls }
    #expect(try await auth.send(request, credential: "cc").get().status == 401)
    #expect(tokens.state.withLock { $0.protectedCalls } == calls + 2)
  }

  @Test func rotatedRefreshTokensAreStoredBack() async throws {
    let (server, tokens, vault, auth, clock, dir) = try await setUp(rotate: true)
    defer {
      server.stop()
      try? FileManager.default.removeItem(at: dir)
    }
    try vault.set(
      Credential(
        name: "x3cloud", type: .oauth2_refresh_token,
        fields: [
          "token_url": server.url + "/token", "client_id": "id", "client_secret": "secret-value", "refresh_token": "r0",
        ], origins: [server.url]))
    let request = MLHostSystems.HTTPRequest(url: server.url + "/protected")
    #expect(try await auth.send(request, credential: "x3cloud").get().status == 200)
    #expect(try vault.get("x3cloud")?.fields["refresh_token"] == "r1")
    clock.advance(280)  // past the refresh margin: the rotated token must be the one used
    #expect(try await auth.send(request, credential: "x3cloud").get().status == 200)
    #expect(try vault.get("x3cloud")?.fields["refresh_token"] == "r2")
    #expect(tokens.state.withLock { $0.issued } == 2)
    // A fresh host (new authenticator) reads the rotated token from the vault.
    let restarted = Authenticator(vault: try CredentialVault(directory: dir), now: { clock.now })
    tokens.state.withLock { $0.current = "revoked" }
    #expect(try await restarted.send(request, credential: "x3cloud").get().status == 200)
    #expect(try vault.get("x3cloud")?.fields["refresh_token"] == "r3")
  }

  @Test func scriptsNameCredentialsAndNeverSeeThem() async throws {
    let (server, _, vault, auth, _, dir) = try await setUp()
    defer {
      server.stop()
      try? FileManager.default.removeItem(at: dir)
    }
    let canary = "canary-\(UUID().uuidString)"
    try vault.set(
      Credential(name: "shop", type: .shopify_token, fields: ["access_token": canary], origins: [server.url]))
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "t" }
        c:job("call", function(_, url)
          local r = mlhost.http.request { url = url, credential = "shop" }
          mlhost.log.info("called", { status = r.status, body = r.body })
          return r.status
        end)
        return c
        """)
    defer { c.remove() }
    let (logger, sink) = capturingLogger()
    let host = try await c.host(logger: logger, authenticator: auth)
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    // /echo-auth returns the Authorization header; Shopify's token travels in its own header, so the body is empty,
    // and the canary, which the host knows, is redacted wherever it would be logged.
    let outcome = try await host.run(connector: "t", job: "call", input: "\"\(server.url)/echo-auth\"")
    #expect(outcome.error == nil)
    #expect(sink.lines.contains { $0.contains("called") })
    #expect(!sink.lines.joined().contains(canary))
    SecretRedactor.shared.register([canary])
    #expect(SecretRedactor.shared.redact("token=\(canary)") == "token=[redacted]")
    await host.shutdown()
  }

  /// The Authorization headers a server was sent.
  final class Seen: Sendable {
    let headers = Mutex<[String]>([])
    var isEmpty: Bool { headers.withLock { $0.isEmpty } }
  }

  /// A server that records every Authorization header it is sent, whatever the path.
  static func echo(_ seen: Seen) async throws -> LocalServer {
    let router = Router()
    router.get("/{path}") { request, _ -> Response in
      seen.headers.withLock { $0.append(request.headers[.authorization] ?? "") }
      return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: request.headers[.authorization] ?? "")))
    }
    return try await LocalServer.start(router)
  }

  @Test func aCredentialIsAttachedOnlyToItsOrigins() async throws {
    let (server, _, vault, auth, _, dir) = try await setUp()
    defer {
      server.stop()
      try? FileManager.default.removeItem(at: dir)
    }
    let seen = Seen()
    let echo = try await Self.echo(seen)
    defer { echo.stop() }
    try vault.set(
      Credential(
        name: "x3", type: .basic, fields: ["user": "svc", "password": "pw-\(UUID().uuidString)"],
        origins: [server.url + "/"]))
    try vault.set(Credential(name: "unbound", type: .basic, fields: ["user": "svc", "password": "pw-unbound"]))
    #expect(try vault.get("x3")?.origins == ["http://127.0.0.1:\(server.port)"])
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "t" }
        c:job("call", function(_, input)
          local r, err, details = mlhost.http.request { url = input.url, credential = input.credential }
          return r and r.status, err, details and details.message
        end)
        c:job("via_system", function(_, url)
          -- A system the script declares on the echo server cannot widen x3's origins.
          local echo = mlhost.http.system { name = "echo", base_url = url, credential = "x3", retries = 0 }
          local r, err, details = mlhost.http.request { system = echo, path = "/steal" }
          return r and r.status, err, details and details.message
        end)
        return c
        """)
    defer { c.remove() }
    let host = try await c.host(authenticator: auth)
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    func call(_ job: String, _ input: String) async throws -> [LuaValue] {
      guard case .succeeded(let values) = try await host.run(connector: "t", job: job, input: input) else {
        Issue.record("job \(job) failed")
        return []
      }
      return values
    }
    let echoOrigin = "http://127.0.0.1:\(echo.port)"
    // On its origin: attached.
    let home = try await call("call", #"{"url": "\#(server.url)/echo-auth", "credential": "x3"}"#)
    #expect(home.first == .integer(200))
    // Another loopback port: refused, naming the credential and the origin, and the echo server saw nothing.
    let stolen = try await call("call", #"{"url": "\#(echo.url)/steal", "credential": "x3"}"#)
    #expect(stolen.first == .nil_ && stolen.dropFirst().first == "auth")
    let message = stolen.last?.stringValue ?? ""
    #expect(message.contains("credential 'x3' refused for \(echoOrigin)"), "\(message)")
    #expect(!message.contains("pw-"))
    let declared = try await call("via_system", "\"\(echo.url)\"")
    #expect(declared.last?.stringValue?.contains("credential 'x3' refused for \(echoOrigin)") == true, "\(declared)")
    // Unbound: refused with the exact command that binds it.
    let unbound = try await call("call", #"{"url": "\#(echo.url)/steal", "credential": "unbound"}"#)
    #expect(
      unbound.last?.stringValue?.contains("mlhost creds set unbound --type basic --origin \(echoOrigin)") == true,
      "\(unbound)")
    #expect(seen.isEmpty, "the echo server was sent a request")
    await host.shutdown()
  }

  @Test func redirectsAreNotFollowedWithACredential() async throws {
    let (server, _, vault, auth, _, dir) = try await setUp()
    defer {
      server.stop()
      try? FileManager.default.removeItem(at: dir)
    }
    let seen = Seen()
    let echo = try await Self.echo(seen)
    defer { echo.stop() }
    let router = Router()
    router.get("/bounce") { _, _ in Response(status: .found, headers: [.location: echo.url + "/steal"]) }
    let bouncer = try await LocalServer.start(router)
    defer { bouncer.stop() }
    try vault.set(
      Credential(name: "x3", type: .basic, fields: ["user": "svc", "password": "pw-redirect"], origins: [bouncer.url]))
    let r = try await auth.send(MLHostSystems.HTTPRequest(url: bouncer.url + "/bounce"), credential: "x3").get()
    #expect(r.status == 302)
    #expect(seen.isEmpty, "the redirect was followed to another origin")
  }
}
