import COpenSSL
import Foundation
import MLHostCore
import MLHostModules
import MLHostSystems

/// Checks a webhook delivery's signature natively, before anything is stored or any Lua runs.
public enum WebhookVerifier {
  public enum Verdict: Equatable, Sendable {
    case valid
    /// WooCommerce's unsigned creation ping: answered 200, nothing queued.
    case ping
    case invalid(String)
  }

  /// `headers` keys are lowercase.
  public static func verify(
    _ system: WebhookDeclaration.System, header: String?, headers: [String: String], body: [UInt8],
    credential: Credential
  ) -> Verdict {
    switch system {
    case .shopify:
      return hmac(headers["x-shopify-hmac-sha256"], body, credential, "X-Shopify-Hmac-Sha256")
    case .woocommerce:
      if headers["x-wc-webhook-signature"] == nil, headers["x-wc-webhook-id"] == nil, isPing(body) { return .ping }
      return hmac(headers["x-wc-webhook-signature"], body, credential, "X-WC-Webhook-Signature")
    case .hmac:
      let name = (header ?? "").lowercased()
      return hmac(headers[name], body, credential, header ?? "signature header")
    case .adobe_commerce:
      // The Webhooks module signs base64(body), not the body, with its RSA key (API facts §3.6); an integration
      // that signs with a shared secret instead stores a `webhook_secret` and gets HMAC-SHA256 over the raw body.
      guard let signature = headers["x-adobe-commerce-webhook-signature"] else {
        return .invalid("missing x-adobe-commerce-webhook-signature")
      }
      if credential.fields["public_key"] == nil, credential.fields["secret"] != nil {
        return hmac(signature, body, credential, "x-adobe-commerce-webhook-signature")
      }
      guard let pem = credential.fields["public_key"] else { return .invalid("credential has no public_key") }
      return rsaSHA256(signature: signature, message: Array(ByteCodecs.base64(body).utf8), publicKeyPEM: pem)
        ? .valid : .invalid("RSA-SHA256 signature does not verify")
    case .adobe_io:
      return adobeIOEvents(headers: headers, body: body, credential: credential)
    }
  }

  /// `webhook_id=<digits>` and nothing else.
  static func isPing(_ body: [UInt8]) -> Bool {
    let text = String(decoding: body, as: UTF8.self)
    guard text.hasPrefix("webhook_id=") else { return false }
    let id = text.dropFirst("webhook_id=".count)
    return !id.isEmpty && id.allSatisfy(\.isNumber)
  }

  /// base64(HMAC-SHA256(secret, body)) against either the current or the previous secret (rotation).
  static func hmac(_ given: String?, _ body: [UInt8], _ credential: Credential, _ headerName: String) -> Verdict {
    guard let given, let expected = decodedBase64(given) else { return .invalid("missing or malformed \(headerName)") }
    for field in ["secret", "previous"] {
      guard var secret = credential.fields[field], !secret.isEmpty else { continue }
      let match = secret.withUTF8 { key in
        body.withUnsafeBytes { data in
          let mac = Digest.hmac(.sha256, key: UnsafeRawBufferPointer(key), data: data)
          return mac.withUnsafeBytes { a in expected.withUnsafeBytes { b in Digest.constantTimeEqual(a, b) } }
        }
      }
      if match { return .valid }
    }
    return .invalid("\(headerName) does not match")
  }

  /// A signature header's base64 value, blanks around it ignored. Works on the bytes: Foundation's trimming goes
  /// through UTF-16 and cost more than the HMAC itself on every delivery.
  static func decodedBase64(_ header: String) -> [UInt8]? {
    var bytes = Array(header.utf8)[...]
    let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    while let b = bytes.first, blank(b) { bytes.removeFirst() }
    while let b = bytes.last, blank(b) { bytes.removeLast() }
    return ByteCodecs.fromBase64(bytes)
  }

  static func rsaSHA256(signature: String, message: [UInt8], publicKeyPEM: String) -> Bool {
    guard let sig = decodedBase64(signature) else { return false }
    let pemBytes = Array(publicKeyPEM.utf8)
    guard let bio = pemBytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else { return false }
    defer { BIO_free(bio) }
    guard let key = PEM_read_bio_PUBKEY(bio, nil, nil, nil) else { return false }
    defer { EVP_PKEY_free(key) }
    guard let ctx = EVP_MD_CTX_new() else { return false }
    defer { EVP_MD_CTX_free(ctx) }
    guard EVP_DigestVerifyInit(ctx, nil, EVP_sha256(), nil, key) == 1 else { return false }
    return EVP_DigestVerify(ctx, sig, sig.count, message, message.count) == 1
  }

  /// The delivery id a system sends (for de-duplication), or a hash of the body when it sends none.
  /// WooCommerce's `X-WC-Webhook-Delivery-ID` is `wp_hash(webhook_id . strtotime('now'))` (API facts §2.5, §2.8):
  /// two different events of one webhook in the same second share it, and it is not signed, so a replay can change
  /// it. Its deliveries are keyed on what is signed instead: the body (resource, id and `date_modified_gmt`).
  public static func deliveryID(_ system: WebhookDeclaration.System, headers: [String: String], body: [UInt8]) -> String
  {
    let given: String?
    switch system {
    case .shopify: given = headers["x-shopify-webhook-id"]
    case .woocommerce: given = nil
    case .adobe_commerce, .hmac: given = headers["x-request-id"] ?? headers["x-delivery-id"]
    case .adobe_io: given = headers["x-adobe-event-id"] ?? headers["x-request-id"]
    }
    if let g = given, !g.isEmpty { return g }
    return "sha256:" + body.withUnsafeBytes { ByteCodecs.hex(Digest.hash(.sha256, $0)) }
  }
}
