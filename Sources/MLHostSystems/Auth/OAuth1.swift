import Foundation
import MLHostCore

/// OAuth 1.0a request signing with HMAC-SHA256 (RFC 5849 §3.4): Adobe Commerce integrations (consumer and token)
/// and WooCommerce over plain HTTP (consumer only, parameters in the query). HMAC-SHA1 only when asked for: Magento
/// 2.4.4 and later refuse it, so it is for stores up to 2.4.3.
public enum OAuth1 {
  public struct Signed: Sendable {
    /// The `oauth_*` parameters, `oauth_signature` included.
    public var parameters: [(String, String)]

    /// `Authorization: OAuth k="v", ...`
    public var header: String {
      "OAuth " + parameters.map { "\($0.0)=\"\(percentEncode($0.1))\"" }.joined(separator: ", ")
    }
  }

  public static func sign(
    method: String, url: String, formBody: [(String, String)] = [], consumerKey: String,
    consumerSecret: String, token: String?, tokenSecret: String?, nonce: String, timestamp: Int,
    algorithm: Digest.Algorithm = .sha256
  ) -> Signed? {
    guard algorithm != .sha512 else { return nil }
    let methodName = algorithm == .sha1 ? "HMAC-SHA1" : "HMAC-SHA256"
    guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
      let host = components.host?.lowercased()
    else { return nil }
    var oauth: [(String, String)] = [
      ("oauth_consumer_key", consumerKey), ("oauth_nonce", nonce), ("oauth_signature_method", methodName),
      ("oauth_timestamp", "\(timestamp)"), ("oauth_version", "1.0"),
    ]
    if let token { oauth.append(("oauth_token", token)) }
    // The query's own parameters are signed too, decoded first and re-encoded the RFC 3986 way.
    let query = (components.percentEncodedQuery ?? "").split(separator: "&").map { pair -> (String, String) in
      let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      let decode = { (s: Substring) in s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) }
      return (decode(kv[0]), kv.count > 1 ? decode(kv[1]) : "")
    }
    let all: [(String, String)] = oauth + query + formBody
    let encoded: [(String, String)] = all.map { (percentEncode($0.0), percentEncode($0.1)) }
    let sorted = encoded.sorted { a, b in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
    let normalized = sorted.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    var base = "\(scheme)://\(host)"
    if let port = components.port, !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) {
      base += ":\(port)"
    }
    base += components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
    let baseString = [method.uppercased(), percentEncode(base), percentEncode(normalized)].joined(separator: "&")
    let key = percentEncode(consumerSecret) + "&" + percentEncode(tokenSecret ?? "")
    let signature = ByteCodecs.base64(Digest.hmac(algorithm, key: Array(key.utf8), data: Array(baseString.utf8)))
    return Signed(parameters: oauth + [("oauth_signature", signature)])
  }
}

/// HS256 JSON Web Tokens, as Sage X3's connected applications expect them minted by the client.
public enum JWT {
  public static func hs256(
    issuer: String, subject: String, audience: String, issuedAt: Int, lifetime: Int, secret: String
  ) -> String {
    let header = ByteCodecs.base64(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8), urlSafe: true, padded: false)
    var claims: [UInt8] = Array(#"{"iss":"#.utf8)
    JSONText.appendString(issuer, to: &claims)
    claims += Array(#","sub":"#.utf8)
    JSONText.appendString(subject, to: &claims)
    claims += Array(#","aud":"#.utf8)
    JSONText.appendString(audience, to: &claims)
    claims += Array(#","iat":\#(issuedAt),"exp":\#(issuedAt + lifetime)}"#.utf8)
    let payload = ByteCodecs.base64(claims, urlSafe: true, padded: false)
    let signingInput = "\(header).\(payload)"
    let signature = Digest.hmac(.sha256, key: Array(secret.utf8), data: Array(signingInput.utf8))
    return "\(signingInput).\(ByteCodecs.base64(signature, urlSafe: true, padded: false))"
  }
}
