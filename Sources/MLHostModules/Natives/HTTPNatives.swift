import Foundation
import MLHostCore
import MLHostLua
import MLHostSystems
import MLHostVM

extension NativeModule {
  static let http = NativeModule(
    "http",
    "HTTP requests on libcurl. A request suspends only the calling job; many run at once over reused connections "
      + "(HTTP/2 where offered, compressed bodies decoded). 4xx and 5xx are responses, not errors; a request the "
      + "world did not answer returns nil, a token (\"timeout\", \"connection refused\", \"dns\", \"tls\", "
      + "\"network\") and details. TLS is verified. Requests to a declared `system` share its budgets and are "
      + "retried by the host when that is safe; in a dry run, mutating requests are journaled instead of sent.",
    functions: [
      NativeFunction(
        "request",
        "Sends one request. Options: `url`, or `path` under the `system`'s base URL; `system` (a name declared with "
          + "`mlhost.http.system`); `method` (default GET), `query` (table, URL-encoded), `headers` (table), `body` "
          + "(string) or `json` (any value, sent as JSON), `timeout` (seconds, default 30), `decimals` (decode a JSON "
          + "response with exact decimals), `credential` (the name of a stored credential the host applies: Basic, "
          + "OAuth 1.0a, OAuth2 with refresh, X3 JWT, Shopify or WooCommerce keys; the script never sees the "
          + "secret, and the host attaches it only to the origins it is bound to with `mlhost creds set --origin`, "
          + "failing with \"auth\" elsewhere; redirects are answers, never followed; with a `system`, only the one its "
          + "declaration names), `safe` (this mutating call "
          + "may be repeated after an ambiguous failure, e.g. it carries an "
          + "idempotency key), `cost` (expected Shopify query cost), `secret_json` (`{key =, credential =}`: the host "
          + "adds the `secret` of that stored webhook secret to the `json` object under `key` as it sends it — for "
          + "registering a webhook with a system that signs its deliveries; the request must go to a `system` with a "
          + "credential and the secret's own credential must be bound to that origin, so the script never sees it "
          + "and it goes nowhere else). Retryable failures (connection errors, 429, "
          + "502/503/504, timeouts, Shopify THROTTLED in a 200, Sage 300 TooManyRequests) are retried with backoff "
          + "honouring Retry-After, except that a mutating call not marked safe is never repeated after a failure "
          + "that may have reached the server: its details say `ambiguous = true`, and the caller must look the "
          + "record up by its natural key before sending it again. The response has `status`, `headers` (lowercase "
          + "names), `body`, `json` for a JSON response, `attempts`, and when they apply `retryable`, `throttled`, "
          + "`retry_after` (seconds) and `dry_run`. Failure details have `message`, `url`, `retryable`, `ambiguous`. "
          + "A method or header name that is not an HTTP token, or CR, LF or NUL in a header value or the URL, is an "
          + "argument error.",
        params: [("options", "table", "")],
        returns: [
          (
            "{status: integer, headers: table<string, string>, body: string, json: any, attempts: integer, retryable: boolean?, throttled: boolean?, retry_after: number?, dry_run: boolean?}?",
            "the response"
          ),
          ("string?", "failure token"),
          (
            "{message: string, url: string, retryable: boolean, ambiguous: boolean, attempts: integer}?",
            "failure details"
          ),
        ],
        requestNative),
      .httpSystem,
    ])
}

/// Whether `s` is an HTTP token (RFC 9110): what a method and a header name are made of. Anything else (a space,
/// CR, LF, NUL, a colon) would end the request line or the header and begin another on the wire.
func isHTTPToken(_ s: String) -> Bool {
  !s.isEmpty
    && s.utf8.allSatisfy { b in
      switch b {
      case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "a")...UInt8(ascii: "z"):
        true
      default: Array("!#$%&'*+-.^_`|~".utf8).contains(b)
      }
    }
}

/// Whether `s` may travel as a header value or URL: no CR, LF or NUL (checked on bytes, since Swift takes "\r\n"
/// for one character), and for a URL no other control character or space either.
func isSafeOnTheWire(_ s: String, url: Bool = false) -> Bool {
  !s.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 || (url && ($0 < 0x21 || $0 == 0x7F)) }
}

/// A value quoted for an error message, control characters escaped and long ones shortened.
private func quoted(_ s: String) -> String { String(reflecting: String(s.prefix(80))) }

/// A string for a query or header value: strings as they are, numbers as Lua writes them, decimals exactly.
private func text(_ L: LuaState, _ index: Int32) -> String? {
  switch L.type(at: index) {
  case .string: return L.string(at: index)
  case .number: return L.isInteger(index) ? "\(L.integer(at: index)!)" : "\(L.number(at: index)!)"
  case .boolean: return L.bool(at: index) ? "true" : "false"
  default: return ExactDecimal.check(L, index)?.description
  }
}

/// The options of `mlhost.http.request`, checked as they are read; what needs the VM (the declared system, its
/// origin, the vault) is checked by `request(in:)`.
private struct RequestOptions: LuaOptions {
  var url: String?
  var path: String?
  var system: String?
  var method: String?
  var query: [String] = []
  var headers: [(String, String)] = []
  var body: [UInt8]?
  var json: [UInt8]?
  var timeout: Double?
  var decimals: Bool
  var credential: String?
  var safe: Bool
  var cost: Double?
  var secretJSON: SecretJSON?

  init(from o: LuaOptionsReader) throws {
    url = try o.string("url")
    path = try o.string("path")
    system = try o.string("system")
    method = try o.string("method")
    if let method, !isHTTPToken(method) {
      throw HostError.argument(1, "request", "`method` \(quoted(method)) is not an HTTP method token")
    }
    query =
      try o.table("query") { L, i in
        var pairs: [String] = []
        L.pushNil()
        while L.next(i) {
          if let k = L.string(at: -2), let v = text(L, -1) { pairs.append("\(percentEncode(k))=\(percentEncode(v))") }
          L.pop()
        }
        return pairs.sorted()
      } ?? []
    headers =
      try o.table("headers") { L, i in
        var headers: [(String, String)] = []
        L.pushNil()
        while L.next(i) {
          if let k = L.string(at: -2), let v = text(L, -1) {
            guard isHTTPToken(k) else {
              throw HostError.argument(
                1, "request", "header name \(quoted(k)) is not an HTTP token (no spaces, colons, CR, LF or NUL)")
            }
            guard isSafeOnTheWire(v) else {
              throw HostError.argument(1, "request", "header '\(k)' has a CR, LF or NUL in its value")
            }
            headers.append((k, v))
          }
          L.pop()
        }
        return headers
      } ?? []
    body = try o.field("body") { L, i in
      switch L.type(at: i) {
      case .nil_: return nil
      case .string: return Array(L.bytes(at: i)!)
      default: throw HostError.misuse("request: `body` must be a string (use `json` for tables)")
      }
    }
    json = try o.field("json") { L, i in
      guard L.type(at: i) != .nil_ else { return nil }
      var encoder = LuaJSONEncoder(L: L)
      do { try encoder.encode(i) } catch {
        throw HostError.misuse(
          "request: `json` cannot be encoded: \((error as? HostError)?.detail ?? "\(error)")")
      }
      return encoder.out
    }
    timeout = try o.number("timeout", in: 0.001...86_400, unit: "seconds")
    decimals = try o.bool("decimals") ?? false
    credential = try o.string("credential")
    safe = try o.bool("safe") ?? false
    cost = try o.number("cost", in: 0...1_000_000, unit: "points")
    secretJSON = try o.field("secret_json") { L, i in
      L.type(at: i) == .nil_ ? nil : try L.options(at: i, native: "request: secret_json", as: SecretJSON.self)
    }
  }

  /// The request these options describe, on `vm`'s declared systems and vault.
  func request(in vm: isolated LuaVM) throws -> (HTTPRequest, SystemClient?) {
    var system: SystemClient?
    if let name = self.system {
      guard let declared = vm.services.systems[name] else {
        throw HostError.misuse("request: unknown system '\(name)' (declare it with mlhost.http.system)")
      }
      system = declared
    }
    let profile = system?.profile
    var url: String
    if let path {
      guard let base = profile?.baseURL else {
        throw HostError.misuse("request: `path` needs a `system` with a base_url")
      }
      url = base + (path.hasPrefix("/") ? path : "/" + path)
      guard isSafeOnTheWire(url, url: true) else {
        throw HostError.argument(1, "request", "`path` \(quoted(path)) holds a control character or space")
      }
    } else {
      guard let given = self.url, given.hasPrefix("http://") || given.hasPrefix("https://") else {
        throw HostError.misuse("request: `url` must be an http(s) URL (or give `path` and `system`)")
      }
      guard isSafeOnTheWire(given, url: true) else {
        throw HostError.argument(1, "request", "`url` \(quoted(given)) holds a control character or space")
      }
      url = given
    }
    if let profile, let base = profile.baseURL, SystemProfile.origin(url) != SystemProfile.origin(base) {
      throw HostError.misuse("request: \(url) is not on system '\(profile.name)' (\(base)); its credential stays there")
    }
    if !query.isEmpty { url += (url.contains("?") ? "&" : "?") + query.joined(separator: "&") }
    var request = HTTPRequest(url: url)
    if let method { request.method = method.uppercased() }
    request.timeout = timeout ?? profile?.timeout ?? 30
    if let profile {
      request.verifyTLS = profile.verifyTLS
      request.caBundle = profile.caBundle
      request.clientCertificate = profile.clientCertificate
      request.clientKey = profile.clientKey
      request.proxy = profile.proxy
    }
    request.headers = headers
    request.body = body
    if let json {
      request.body = json
      if !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
        request.headers.append(("Content-Type", "application/json"))
      }
    }
    if let secretJSON {
      guard request.body?.first == UInt8(ascii: "{"), request.body?.last == UInt8(ascii: "}") else {
        throw HostError.misuse("request: `secret_json` needs `json` to be an object")
      }
      guard profile?.credential != nil else {
        throw HostError.misuse(
          "request: `secret_json` needs a `system` with a credential, to whose origin the secret is bound")
      }
      request.embeddedSecret = HTTPRequest.EmbeddedSecret(key: secretJSON.key, credential: secretJSON.credential)
    }
    if let profile, let credential {
      // The system's client signs with the system's credential only: one named here alone would go unused and the
      // request out unsigned.
      guard let own = profile.credential else {
        throw HostError.misuse(
          "request: system '\(profile.name)' declares no credential, so '\(credential)' would not be applied; "
            + "name it in the system's declaration (mlhost.http.system { credential = ... })")
      }
      guard own == credential else {
        throw HostError.misuse("request: system '\(profile.name)' signs with credential '\(own)', not '\(credential)'")
      }
    }
    if let profile, profile.readOnly, SystemProfile.mutates(method: request.method, body: request.body) {
      throw HostError.misuse(
        "request: system '\(profile.name)' is read-only; \(request.method) \(url) refused", token: "read_only")
    }
    return (request, system)
  }
}

/// `secret_json = {key =, credential =}`: the stored webhook secret the host adds to the JSON body as it sends it.
private struct SecretJSON: LuaOptions {
  let key: String
  let credential: String

  init(from o: LuaOptionsReader) throws {
    guard let key = try o.string("key"), let credential = try o.string("credential"),
      (1...64).contains(key.utf8.count), (1...128).contains(credential.utf8.count)
    else {
      throw HostError.misuse(
        "request: `secret_json` needs `key` (1 to 64 bytes) and `credential` (a credential's name)")
    }
    self.key = key
    self.credential = credential
  }
}

private let requestNative: NativeBody = { L, vm in
  let options = try L.options(at: 1, native: "request", as: RequestOptions.self)
  let (request, system) = try options.request(in: vm)
  let credential = options.credential ?? system?.profile.credential
  let authenticator = vm.services.runtime?.authenticator
  if let credential, authenticator == nil {
    throw HostError.misuse(
      "request: credential '\(credential)' needs the host's vault (run the connector with `mlhost run`)")
  }
  let client =
    system
    ?? SystemClient(
      SystemProfile(name: SystemProfile.origin(request.url) ?? request.url, credential: credential, retries: 0))
  let journal = vm.services.runtime?.journal
  let observer = RequestObserver(
    logger: vm.logger, context: vm.logContext(L), connector: vm.services.definition?.name ?? "",
    metrics: vm.services.runtime?.metrics)
  let (safe, cost, decimals) = (options.safe, options.cost, options.decimals)
  return try vm.suspend(
    L, "mlhost.http.request",
    start: { done in
      client.send(
        request, safe: safe, cost: cost, authenticator: authenticator, journal: journal, observer: observer
      ) { done(.success($0)) }
    }
  ) { L, exchange in
    push(exchange, of: request, decimals: decimals, to: L)
  }
}

/// The script's view of an exchange: the response table, or nil, a token and details.
private func push(_ exchange: SystemClient.Exchange, of sent: HTTPRequest, decimals: Bool, to L: LuaState)
  -> NativeResult
{
  let verdict = exchange.verdict
  switch exchange.result {
  case .failure(let f):
    L.pushNil()
    L.push(f.token)
    L.push(
      [
        "message": .text(SecretRedactor.shared.redact(f.detail)),
        "url": .text(SecretRedactor.shared.redact(sent.url)),
        "retryable": .boolean(verdict.retryable), "ambiguous": .boolean(verdict.ambiguous),
        "attempts": .integer(Int64(exchange.attempts)),
      ] as LuaValue)
    return .values(3)
  case .success(let r):
    L.newTable(hash: 8)
    L.push(Int64(r.status))
    L.setField(-2, "status")
    L.push(Int64(exchange.attempts))
    L.setField(-2, "attempts")
    for (flag, name) in [
      (verdict.retryable, "retryable"), (verdict.throttled, "throttled"), (exchange.dryRun, "dry_run"),
    ]
    where flag {
      L.push(true)
      L.setField(-2, name)
    }
    if let after = verdict.retryAfter {
      L.push(after)
      L.setField(-2, "retry_after")
    }
    L.newTable(hash: Int32(r.headers.count))
    var merged: [String: String] = [:]
    for (k, v) in r.headers { merged[k] = merged[k].map { "\($0), \(v)" } ?? v }
    for (k, v) in merged {
      L.push(v)
      L.setField(-2, k)
    }
    L.setField(-2, "headers")
    L.push(bytes: r.body)
    L.setField(-2, "body")
    if r.header("content-type")?.contains("json") == true, !r.body.isEmpty {
      let top = L.top
      _ = L.getField(-1, "body")
      var decoder = LuaJSONDecoder(L: L, bytes: L.bytes(at: -1)!, decimals: decimals)
      if (try? decoder.decodeDocument()) != nil {
        L.remove(at: -2)
        L.setField(-2, "json")
      } else {
        L.top = top
      }
    }
    return .one
  }
}
