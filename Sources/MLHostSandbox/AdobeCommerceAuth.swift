import Foundation
import Hummingbird
import MLHostCore

/// How the simulated store lets a request in (API facts §3.2): admin logins answered with a token, bearer tokens
/// (admin tokens; integration tokens only where the store allows them), and OAuth 1.0a checked in Magento's order.
extension AdobeCommerceSimulator {

  func adminToken(_ body: [UInt8]) -> Response {
    let f = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    guard let user = f["username"] as? String, let password = f["password"] as? String else {
      return Self.error(
        "\"%fieldName\" is required. Enter and try again.",
        ["fieldName": f["username"] == nil ? "username" : "password"])
    }
    guard user == config.adminUser, password == config.adminPassword else {
      count("admin_login_failures")
      return Self.error(
        "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.",
        status: .unauthorized)
    }
    count("admin_tokens_issued")
    return Self.json(adminTokens.issue(prefix: "adm"))
  }

  /// nil when the request may go on; otherwise Magento's refusal.
  func authenticate(_ request: Request) -> Response? {
    let header = request.headers[.authorization] ?? ""
    let unauthorized = Self.error(
      "The consumer isn't authorized to access %resources.", ["resources": "Magento_Sales::sales"],
      status: .unauthorized)
    if header.hasPrefix("Bearer ") {
      let token = String(header.dropFirst(7))
      if adminTokens.valid(token) { return nil }
      if config.integrationAsBearer, token == config.accessToken { return nil }
      count("bearer_refused")
      return unauthorized
    }
    guard header.hasPrefix("OAuth ") else { return unauthorized }
    return verifyOAuth(header, request: request)
  }

  /// `OAuth k="v", …` → its decoded parameters.
  public static func oauthParameters(_ header: String) -> [String: String] {
    var out: [String: String] = [:]
    for part in header.dropFirst(6).split(separator: ",") {
      let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
      guard kv.count == 2 else { continue }
      let value = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
      out[String(kv[0])] = value.removingPercentEncoding ?? value
    }
    return out
  }

  /// The signature the store expects (RFC 5849 §3.4, HMAC-SHA1 or -SHA256 as `oauth_signature_method` says) over
  /// what arrived: method, `http://authority/path` as sent, and every `oauth_*` parameter but the signature plus the
  /// query's, decoded and encoded again the RFC 3986 way, sorted. Written apart from the host's signer, so the two
  /// can be checked against each other and against oauthlib.
  public static func oauthSignature(
    method: String, authority: String, path: String, query: String, oauth: [String: String],
    consumerSecret: String, tokenSecret: String
  ) -> String {
    var params: [(String, String)] = oauth.filter { $0.key != "oauth_signature" && $0.key != "realm" }.map {
      ($0.key, $0.value)
    }
    params += queryPairs(query)
    let encoded: [(String, String)] = params.map { (percentEncode($0.0), percentEncode($0.1)) }
    let sorted = encoded.sorted { (a: (String, String), b: (String, String)) -> Bool in
      a.0 != b.0 ? a.0 < b.0 : a.1 < b.1
    }
    let normalized = sorted.map { (k: String, v: String) -> String in k + "=" + v }.joined(separator: "&")
    let base = "http://" + authority.lowercased() + path
    let text = [method.uppercased(), percentEncode(base), percentEncode(normalized)].joined(separator: "&")
    let key = percentEncode(consumerSecret) + "&" + percentEncode(tokenSecret)
    let algorithm: Digest.Algorithm = oauth["oauth_signature_method"] == "HMAC-SHA1" ? .sha1 : .sha256
    return ByteCodecs.base64(Digest.hmac(algorithm, key: Array(key.utf8), data: Array(text.utf8)))
  }

  /// The store's own check of an OAuth 1.0a signature, in Magento's order: required parameters, version, method,
  /// consumer and token, timestamp, nonce, then the signature over the request as it arrived.
  func verifyOAuth(_ header: String, request: Request) -> Response? {
    let p = Self.oauthParameters(header)
    for name in [
      "oauth_consumer_key", "oauth_signature_method", "oauth_timestamp", "oauth_nonce", "oauth_signature",
      "oauth_token",
    ]
    where (p[name] ?? "").isEmpty {
      return Self.error("\"%fieldName\" is required. Enter and try again.", ["fieldName": name], status: .badRequest)
    }
    if let version = p["oauth_version"], version != "1.0" {
      return Self.error("The \"%1\" Oauth version isn't supported.", [version], status: .unauthorized)
    }
    let method = p["oauth_signature_method"]!
    let sha1Allowed = config.before("2.4.4")
    guard method == "HMAC-SHA256" || (method == "HMAC-SHA1" && sha1Allowed) else {
      count("signature_method_refused")
      return Self.error("Signature method %1 is not supported", [method], status: .badRequest)
    }
    guard p["oauth_consumer_key"] == config.consumerKey else {
      return Self.error(
        "A consumer with the key \"%1\" doesn't exist. Verify the key and try again.", [p["oauth_consumer_key"]!],
        status: .unauthorized)
    }
    guard p["oauth_token"] == config.accessToken else {
      return Self.error("The token length is invalid. Check the length and try again.", status: .unauthorized)
    }
    guard let timestamp = Double(p["oauth_timestamp"]!),
      abs(timestamp - Date().timeIntervalSince1970) <= config.timestampWindow
    else {
      count("stale_timestamps")
      return Self.error("The timestamp is invalid. Verify and try again.", status: .unauthorized)
    }
    let expected = Self.oauthSignature(
      method: request.method.rawValue, authority: request.head.authority ?? "localhost", path: request.uri.path,
      query: request.uri.query ?? "", oauth: p, consumerSecret: config.consumerSecret,
      tokenSecret: config.accessTokenSecret)
    guard expected == p["oauth_signature"] else {
      count("bad_signatures")
      return Self.error("The signature is invalid. Verify and try again.", status: .unauthorized)
    }
    let fresh = state.withLock { s in
      let inserted = s.nonces.insert("\(p["oauth_consumer_key"]!)|\(p["oauth_nonce"]!)").inserted
      if inserted, request.method == .get { s.lastSigned = (request.uri.description, header) }
      return inserted
    }
    guard fresh else {
      count("nonce_replays")
      return Self.error(
        "The nonce is already being used by the consumer with ID %1.", [String(config.consumerID)],
        status: .unauthorized)
    }
    return nil
  }
}
