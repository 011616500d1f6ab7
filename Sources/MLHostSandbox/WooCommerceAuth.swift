import Foundation
import HTTPTypes
import Hummingbird
import MLHostCore
import MLHostSystems

/// WooCommerce's REST authentication (API facts §2.2, `class-wc-rest-authentication.php`): over HTTPS the consumer
/// key and secret as query parameters or HTTP Basic; over plain HTTP one-legged OAuth 1.0a (HMAC-SHA1 or -SHA256,
/// signing key `consumer_secret&`, timestamp within 15 minutes, each nonce once). Key permissions `read`, `write`
/// or `read_write` are enforced per method.
/// An answer, or the refusal to send instead.
enum WooAnswer<T> {
  case ok(T)
  case refused(Response)
}

extension WooCommerceSimulator {
  public struct APIKey: Sendable {
    public var key: String
    public var secret: String
    /// `read`, `write` or `read_write`.
    public var permissions: String
  }

  /// The WordPress error envelope `{code, message, data: {status}}`.
  static func wpError(_ code: String, _ message: String, status: HTTPResponse.Status, headers: HTTPFields = [:])
    -> Response
  {
    SimJSON.response(
      ["code": code, "message": message, "data": ["status": Int(status.code)]], status: status, headers: headers)
  }

  static func unauthorized(_ code: String, _ message: String) -> Response {
    wpError(code, message, status: .unauthorized)
  }

  static let basicRealm =
    "Basic realm=\"WooCommerce API. Use a consumer key in the username field and a consumer secret in the password field.\""

  /// The request's key, or the refusal WooCommerce answers.
  func authenticate(_ request: Request, query: [(String, String)]) -> WooAnswer<APIKey> {
    let q = Dictionary(query, uniquingKeysWith: { a, _ in a })
    if config.https {
      // Query parameters take precedence over Basic.
      var given: (String, String)?
      if let k = q["consumer_key"], let s = q["consumer_secret"] {
        given = (k, s)
      } else if let h = request.headers[.authorization], h.hasPrefix("Basic "),
        let decoded = ByteCodecs.fromBase64(Array(h.dropFirst(6).utf8)).map({ String(decoding: $0, as: UTF8.self) }),
        let colon = decoded.firstIndex(of: ":")
      {
        given = (String(decoded[..<colon]), String(decoded[decoded.index(after: colon)...]))
      }
      // An unknown key (or none) continues as anonymous and fails the endpoint's permission check.
      guard let given, let key = keys.first(where: { $0.key == given.0 }) else {
        return .refused(Self.unauthorized("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."))
      }
      guard key.secret == given.1 else {
        return .refused(
          Self.wpError(
            "woocommerce_rest_authentication_error", "Consumer secret is invalid.", status: .unauthorized,
            headers: [.wwwAuthenticate: Self.basicRealm]))
      }
      return .ok(key)
    }
    return oauth(request, q: q, query: query)
  }

  private func oauth(_ request: Request, q: [String: String], query: [(String, String)]) -> WooAnswer<APIKey> {
    let required = [
      "oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method",
    ]
    let missing = required.filter { q[$0] == nil }
    guard missing.isEmpty else {
      return .refused(
        Self.unauthorized(
          "woocommerce_rest_authentication_missing_parameter",
          "Missing OAuth parameter(s) \(missing.joined(separator: ", "))"))
    }
    guard let key = keys.first(where: { $0.key == q["oauth_consumer_key"] }) else {
      return .refused(Self.unauthorized("woocommerce_rest_authentication_error", "Consumer key is invalid."))
    }
    let method = q["oauth_signature_method"]!
    guard method == "HMAC-SHA1" || method == "HMAC-SHA256" else {
      return .refused(
        Self.unauthorized("woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid."))
    }
    let encoded: [(String, String)] = query.filter { $0.0 != "oauth_signature" }.map {
      (percentEncode($0.0), percentEncode($0.1))
    }
    let params = encoded.sorted { a, b in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
    // RFC 5849 §3.4.1: each pair encoded, joined with &, the whole encoded again (WooCommerce encodes each
    // `k=v` and joins with %26, which is the same).
    let pairs: [String] = params.map { "\($0.0)=\($0.1)" }
    // WooCommerce signs with PHP's rawurlencode: RFC 3986 percent-encoding, as the client's.
    let uri: String = percentEncode(homeURL + request.uri.path)
    let normalized: String = request.method.rawValue + "&" + uri + "&" + percentEncode(pairs.joined(separator: "&"))
    let signingKey = Array((key.secret + "&").utf8)
    let mac = Digest.hmac(method == "HMAC-SHA1" ? .sha1 : .sha256, key: signingKey, data: Array(normalized.utf8))
    guard let given = ByteCodecs.fromBase64(Array(q["oauth_signature"]!.utf8)),
      given.withUnsafeBytes({ a in mac.withUnsafeBytes { b in Digest.constantTimeEqual(a, b) } })
    else {
      return .refused(
        Self.unauthorized(
          "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match."))
    }
    let now = Date().timeIntervalSince1970
    guard let stamp = Double(q["oauth_timestamp"]!), abs(now - stamp) <= 15 * 60 else {
      return .refused(Self.unauthorized("woocommerce_rest_authentication_error", "Invalid timestamp."))
    }
    let fresh: Bool = lock.withLock {
      nonces = nonces.filter { now - $0.value <= 15 * 60 }
      let id = key.key + "|" + q["oauth_nonce"]!
      guard nonces[id] == nil else { return false }
      nonces[id] = now
      return true
    }
    guard fresh else {
      return .refused(
        Self.unauthorized("woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used."))
    }
    return .ok(key)
  }

  /// The permission check every key meets: reads need `read`, writes need `write`.
  static func permitted(_ key: APIKey, method: HTTPRequest.Method) -> Response? {
    let reading = method == .get || method == .head
    if reading && key.permissions == "write" {
      return unauthorized(
        "woocommerce_rest_authentication_error", "The API key provided does not have read permissions.")
    }
    if !reading && key.permissions == "read" {
      return unauthorized(
        "woocommerce_rest_authentication_error", "The API key provided does not have write permissions.")
    }
    return nil
  }

  /// The query's pairs, decoded (`+` is a space).
  static func pairs(_ request: Request) -> [(String, String)] {
    guard let query = request.uri.query, !query.isEmpty else { return [] }
    return query.split(separator: "&").map { pair in
      let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let decode = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
      return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
    }
  }
}
