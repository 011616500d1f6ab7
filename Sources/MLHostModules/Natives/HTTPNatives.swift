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
          + "failing with \"auth\" elsewhere; redirects are answers, never followed), `safe` (this mutating call "
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

private let requestOptions: Set<String> = [
  "url", "path", "system", "method", "query", "headers", "body", "json", "timeout", "decimals", "credential", "safe",
  "cost", "secret_json",
]

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

private let requestNative: LuaNative = { raw in
  let L = LuaState(raw!)
  guard L.type(at: 1) == .table else { return L.argError(1, "request", "options table expected") }
  if let refused = L.refuseUnknownOptions(at: 1, native: "request", known: requestOptions) { return refused }
  func field(_ name: String) -> LuaType { L.rawGet(1, name) }
  let vm = LuaVM.of(L)
  var system: SystemClient?
  if field("system") != .nil_ {
    guard let name = L.string(at: -1), let declared = vm.services.systems[name] else {
      defer { L.pop() }
      return L.raise(
        "request: unknown system '\(L.string(at: -1) ?? L.typeName(at: -1))' (declare it with mlhost.http.system)")
    }
    system = declared
  }
  L.pop()
  let profile = system?.profile
  var url: String
  if field("path") == .string {
    guard let base = profile?.baseURL, let path = L.string(at: -1) else {
      L.pop()
      return L.raise("request: `path` needs a `system` with a base_url")
    }
    url = base + (path.hasPrefix("/") ? path : "/" + path)
    L.pop()
    guard isSafeOnTheWire(url, url: true) else {
      return L.argError(1, "request", "`path` \(quoted(path)) holds a control character or space")
    }
  } else {
    L.pop()
    guard field("url") == .string, let given = L.string(at: -1),
      given.hasPrefix("http://") || given.hasPrefix("https://")
    else {
      L.pop()
      return L.raise("request: `url` must be an http(s) URL (or give `path` and `system`)")
    }
    url = given
    L.pop()
    guard isSafeOnTheWire(url, url: true) else {
      return L.argError(1, "request", "`url` \(quoted(url)) holds a control character or space")
    }
  }
  if let base = profile?.baseURL, SystemProfile.origin(url) != SystemProfile.origin(base) {
    return L.raise("request: \(url) is not on system '\(profile!.name)' (\(base)); its credential stays there")
  }
  var request = HTTPRequest(url: url)
  if field("method") == .string {
    let method = L.string(at: -1)!
    L.pop()
    guard isHTTPToken(method) else {
      return L.argError(1, "request", "`method` \(quoted(method)) is not an HTTP method token")
    }
    request.method = method.uppercased()
  } else {
    L.pop()
  }
  if field("timeout") == .nil_ {
    request.timeout = profile?.timeout ?? 30
  } else if let timeout = L.number(at: -1, in: 0.001...86_400) {
    request.timeout = timeout
  } else {
    return L.raise("request: `timeout` must be a number of seconds from 0.001 to 86400, got \(L.describe(at: -1))")
  }
  L.pop()
  let decimals = field("decimals") == .boolean && L.bool(at: -1)
  L.pop()
  let safe = field("safe") == .boolean && L.bool(at: -1)
  L.pop()
  let cost = field("cost") == .nil_ ? nil : L.number(at: -1, in: 0...1_000_000)
  if cost == nil && L.type(at: -1) != .nil_ {
    return L.raise("request: `cost` must be a number of points from 0 to 1000000, got \(L.describe(at: -1))")
  }
  L.pop()
  if let profile {
    request.verifyTLS = profile.verifyTLS
    request.caBundle = profile.caBundle
    request.clientCertificate = profile.clientCertificate
    request.clientKey = profile.clientKey
    request.proxy = profile.proxy
  }
  if field("query") == .table {
    var pairs: [String] = []
    L.pushNil()
    while L.next(-2) {
      if let k = L.string(at: -2), let v = text(L, -1) { pairs.append("\(percentEncode(k))=\(percentEncode(v))") }
      L.pop()
    }
    if !pairs.isEmpty { url += (url.contains("?") ? "&" : "?") + pairs.sorted().joined(separator: "&") }
    request.url = url
  }
  L.pop()
  if field("headers") == .table {
    L.pushNil()
    while L.next(-2) {
      if let k = L.string(at: -2), let v = text(L, -1) {
        guard isHTTPToken(k) else {
          L.pop(3)
          return L.argError(
            1, "request", "header name \(quoted(k)) is not an HTTP token (no spaces, colons, CR, LF or NUL)")
        }
        guard isSafeOnTheWire(v) else {
          L.pop(3)
          return L.argError(1, "request", "header '\(k)' has a CR, LF or NUL in its value")
        }
        request.headers.append((k, v))
      }
      L.pop()
    }
  }
  L.pop()
  if field("body") != .nil_ {
    guard let b = L.bytes(at: -1), L.type(at: -1) == .string else {
      L.pop()
      return L.raise("request: `body` must be a string (use `json` for tables)")
    }
    request.body = Array(b)
  }
  L.pop()
  if field("json") != .nil_ {
    var encoder = LuaJSONEncoder(L: L)
    do { try encoder.encode(-1) } catch {
      L.pop()
      return L.raise("request: `json` cannot be encoded: \((error as? LuaJSONEncoder.Failure)?.message ?? "\(error)")")
    }
    request.body = encoder.out
    if !request.headers.contains(where: { $0.0.lowercased() == "content-type" }) {
      request.headers.append(("Content-Type", "application/json"))
    }
  }
  L.pop()
  if field("secret_json") != .nil_ {
    guard L.type(at: -1) == .table else {
      L.pop()
      return L.raise("request: `secret_json` must be a table {key = \"...\", credential = \"...\"}")
    }
    L.push("key")
    L.rawGet(-2)
    let key = L.type(at: -1) == .string ? L.string(at: -1) : nil
    L.pop()
    L.push("credential")
    L.rawGet(-2)
    let named = L.type(at: -1) == .string ? L.string(at: -1) : nil
    L.pop(2)
    guard let key, let named, (1...64).contains(key.utf8.count), (1...128).contains(named.utf8.count) else {
      return L.raise("request: `secret_json` needs `key` (1 to 64 bytes) and `credential` (a credential's name)")
    }
    guard request.body?.first == UInt8(ascii: "{"), request.body?.last == UInt8(ascii: "}") else {
      return L.raise("request: `secret_json` needs `json` to be an object")
    }
    guard profile?.credential != nil else {
      return L.raise("request: `secret_json` needs a `system` with a credential, to whose origin the secret is bound")
    }
    request.embeddedSecret = HTTPRequest.EmbeddedSecret(key: key, credential: named)
  } else {
    L.pop()
  }
  var credential = profile?.credential
  if field("credential") == .string {
    let named = L.string(at: -1)!
    if let credential, credential != named {
      L.pop()
      return L.raise("request: system '\(profile!.name)' signs with credential '\(credential)', not '\(named)'")
    }
    credential = named
  }
  L.pop()
  if let profile, profile.readOnly, SystemProfile.mutates(method: request.method, body: request.body) {
    return L.raise(
      kind: "read_only", "request: system '\(profile.name)' is read-only; \(request.method) \(url) refused",
      retryable: false)
  }
  let authenticator = vm.services.runtime?.authenticator
  if let credential, authenticator == nil {
    return L.raise("request: credential '\(credential)' needs the host's vault (run the connector with `mlhost run`)")
  }
  let client =
    system ?? SystemClient(SystemProfile(name: SystemProfile.origin(url) ?? url, credential: credential, retries: 0))
  let journal = vm.services.runtime?.journal
  let sent = request
  let observer = RequestObserver(
    logger: vm.logger, context: vm.logContext(L), connector: vm.services.definition?.name ?? "",
    metrics: vm.services.runtime?.metrics)
  return vm.suspend(
    L, "mlhost.http.request",
    {
      await client.send(
        sent, safe: safe, cost: cost, authenticator: authenticator, journal: journal, observer: observer)
    }
  ) { L, exchange in
    let verdict = exchange.verdict
    switch exchange.result {
    case .failure(let f):
      L.pushNil()
      L.push(f.token)
      L.push(
        [
          "message": .text(SecretRedactor.shared.redact(f.message)),
          "url": .text(SecretRedactor.shared.redact(sent.url)),
          "retryable": .boolean(verdict.retryable), "ambiguous": .boolean(verdict.ambiguous),
          "attempts": .integer(Int64(exchange.attempts)),
        ] as LuaValue)
      return 3
    case .success(let r):
      L.newTable(hash: 8)
      L.push(Int64(r.status))
      L.setField(-2, "status")
      L.push(Int64(exchange.attempts))
      L.setField(-2, "attempts")
      if verdict.retryable {
        L.push(true)
        L.setField(-2, "retryable")
      }
      if verdict.throttled {
        L.push(true)
        L.setField(-2, "throttled")
      }
      if let after = verdict.retryAfter {
        L.push(after)
        L.setField(-2, "retry_after")
      }
      if exchange.dryRun {
        L.push(true)
        L.setField(-2, "dry_run")
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
      return 1
    }
  }
}
