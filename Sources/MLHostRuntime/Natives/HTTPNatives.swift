import CLua
import CLuaBridge
import Foundation
import MLHostLua

extension NativeModule {
  static let http = NativeModule(
    "http",
    "HTTP requests on libcurl. A request suspends only the calling job; many run at once over reused connections "
      + "(HTTP/2 where offered, compressed bodies decoded). 4xx and 5xx are responses, not errors; a request the "
      + "world did not answer returns nil, a token (\"timeout\", \"connection refused\", \"dns\", \"tls\", "
      + "\"network\") and details. TLS is verified.",
    functions: [
      NativeFunction(
        "request",
        "Sends one request. Options: `url` (required), `method` (default GET), `query` (table, URL-encoded), "
          + "`headers` (table), `body` (string) or `json` (any value, sent as JSON), `timeout` (seconds, default "
          + "30), `decimals` (decode a JSON response with exact decimals), `credential` (the name of a stored "
          + "credential the host applies: Basic, OAuth 1.0a, OAuth2 with refresh, X3 JWT, Shopify or WooCommerce "
          + "keys; the script never sees the secret). The response has `status`, `headers` (lowercase names), "
          + "`body` and, for a JSON response, `json`.",
        params: [("options", "table", "")],
        returns: [("{status: integer, headers: table<string, string>, body: string, json: any}?", "the response"),
          ("string?", "failure token"), ("{message: string, url: string}?", "failure details")],
        requestNative),
    ])
}

private let requestOptions: Set<String> = [
  "url", "method", "query", "headers", "body", "json", "timeout", "decimals", "credential",
]

/// RFC 3986 unreserved characters pass; everything else is percent-encoded.
func percentEncode(_ s: String) -> String {
  var out = ""
  for b in s.utf8 {
    switch b {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
      UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
      out.unicodeScalars.append(Unicode.Scalar(b))
    default:
      out += String(format: "%%%02X", b)
    }
  }
  return out
}

/// A string for a query or header value: strings as they are, numbers as Lua writes them, decimals exactly.
private func text(_ L: LuaState, _ index: Int32) -> String? {
  switch L.type(at: index) {
  case LUA_TSTRING: return L.string(at: index)
  case LUA_TNUMBER: return L.isInteger(index) ? "\(L.integer(at: index)!)" : "\(L.number(at: index)!)"
  case LUA_TBOOLEAN: return L.bool(at: index) ? "true" : "false"
  default: return ExactDecimal.check(L, index)?.description
  }
}

private let requestNative: mlh_native_fn = { raw in
  let L = LuaState(raw!)
  guard L.type(at: 1) == LUA_TTABLE else { return L.argError(1, "request", "options table expected") }
  L.pushNil()
  while lua_next(L.raw, 1) != 0 {
    L.pop()
    guard let key = L.string(at: -1), requestOptions.contains(key) else {
      let name = L.string(at: -1) ?? L.typeName(at: -1)
      L.pop()
      return L.raise("request: unknown option '\(name)' (known: \(requestOptions.sorted().joined(separator: ", ")))")
    }
  }
  func field(_ name: String) -> Int32 {
    L.push(name)
    return lua_rawget(L.raw, 1)
  }
  guard field("url") == LUA_TSTRING, var url = L.string(at: -1), url.hasPrefix("http://") || url.hasPrefix("https://") else {
    return L.raise("request: `url` must be an http(s) URL")
  }
  L.pop()
  var request = HTTPRequest(url: url)
  if field("method") == LUA_TSTRING { request.method = L.string(at: -1)!.uppercased() }
  L.pop()
  if field("timeout") == LUA_TNUMBER { request.timeout = max(0.001, L.number(at: -1)!) }
  L.pop()
  let decimals = field("decimals") == LUA_TBOOLEAN && L.bool(at: -1)
  L.pop()
  if field("query") == LUA_TTABLE {
    var pairs: [String] = []
    L.pushNil()
    while lua_next(L.raw, -2) != 0 {
      if let k = L.string(at: -2), let v = text(L, -1) { pairs.append("\(percentEncode(k))=\(percentEncode(v))") }
      L.pop()
    }
    if !pairs.isEmpty { url += (url.contains("?") ? "&" : "?") + pairs.sorted().joined(separator: "&") }
    request.url = url
  }
  L.pop()
  if field("headers") == LUA_TTABLE {
    L.pushNil()
    while lua_next(L.raw, -2) != 0 {
      if let k = L.string(at: -2), let v = text(L, -1) {
        guard !k.contains(where: { $0 == "\r" || $0 == "\n" || $0 == ":" }), !v.contains(where: { $0 == "\r" || $0 == "\n" })
        else {
          L.pop(3)
          return L.raise("request: header '\(k)' contains a line break or colon")
        }
        request.headers.append((k, v))
      }
      L.pop()
    }
  }
  L.pop()
  if field("body") != LUA_TNIL {
    guard let b = L.bytes(at: -1), L.type(at: -1) == LUA_TSTRING else {
      L.pop()
      return L.raise("request: `body` must be a string (use `json` for tables)")
    }
    request.body = Array(b)
  }
  L.pop()
  if field("json") != LUA_TNIL {
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
  let vm = LuaVM.of(L)
  var credential: String?
  if field("credential") == LUA_TSTRING { credential = L.string(at: -1) }
  L.pop()
  var authenticator: Authenticator?
  if let name = credential {
    guard let a = vm.services.runtime?.authenticator else {
      return L.raise("request: credential '\(name)' needs the host's vault (run the connector with `mlhost run`)")
    }
    authenticator = a
  }
  let sent = request
  let auth = authenticator
  let credentialName = credential
  return vm.suspend(L, "mlhost.http.request", {
    if let auth, let credentialName { return await auth.send(sent, credential: credentialName) }
    return await HTTPClient.shared.send(sent)
  }) { L, result in
    switch result {
    case .failure(let f):
      L.pushNil()
      L.push(f.token)
      L.push(["message": .text(SecretRedactor.shared.redact(f.message)), "url": .text(sent.url)] as LuaValue)
      return 3
    case .success(let r):
      L.newTable(hash: 4)
      L.push(Int64(r.status))
      L.setField(-2, "status")
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
          mlh_lua_remove(L.raw, -2)
          L.setField(-2, "json")
        } else {
          L.top = top
        }
      }
      return 1
    }
  }
}
