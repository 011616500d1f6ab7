import COpenSSL
import Foundation
import MLHostCore
import MLHostSystems

/// An RSA-2048 key pair made when the sandbox starts, as the Admin's "Regenerate key pair" makes one: the private
/// half signs, the public half (PEM) is what a receiver is given.
final class RSAKeyPair: @unchecked Sendable {
  private let key: OpaquePointer
  let publicPEM: String

  init?() {
    guard let ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil) else { return nil }
    defer { EVP_PKEY_CTX_free(ctx) }
    var made: OpaquePointer?
    guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) == 1,
      EVP_PKEY_keygen(ctx, &made) == 1,
      let made
    else { return nil }
    key = made
    guard let bio = BIO_new(BIO_s_mem()) else { return nil }
    defer { BIO_free(bio) }
    guard PEM_write_bio_PUBKEY(bio, made) == 1 else { return nil }
    var pointer: UnsafeMutablePointer<CChar>?
    let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &pointer)
    guard let pointer, length > 0 else { return nil }
    publicPEM = String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
  }

  deinit { EVP_PKEY_free(key) }

  /// base64(RSA-SHA256, PKCS#1 v1.5, over `message`).
  func sign(_ message: [UInt8]) -> String {
    guard let ctx = EVP_MD_CTX_new() else { return "" }
    defer { EVP_MD_CTX_free(ctx) }
    guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key) == 1 else { return "" }
    var length = 0
    guard EVP_DigestSign(ctx, nil, &length, message, message.count) == 1 else { return "" }
    var signature = [UInt8](repeating: 0, count: length)
    guard EVP_DigestSign(ctx, &signature, &length, message, message.count) == 1 else { return "" }
    return ByteCodecs.base64(Array(signature.prefix(length)))
  }
}

extension AdobeCommerceSimulator {
  /// How a delivery made for a test is spoiled: not at all, its body changed after signing, or signed with a key
  /// that is not the store's.
  public enum Tamper: String, Sendable {
    case valid, forged
    case otherKey = "other_key"
  }

  /// A delivery of the Webhooks module (API facts §3.6): the event's data as JSON, signed over base64(body) with
  /// the store's private key in `x-adobe-commerce-webhook-signature`.
  public func webhookDelivery(event: String, order incrementID: String, tamper: Tamper = .valid)
    -> (headers: [(String, String)], body: [UInt8])?
  {
    guard let order = orderResource(incrementID: incrementID) else { return nil }
    let body = Array(AdobeJSON.data(["eventName": event, "data": ["order": order]]))
    let key = tamper == .otherKey ? RSAKeyPair()! : webhookKey
    let signature = key.sign(Array(ByteCodecs.base64(body).utf8))
    return (
      [
        ("Content-Type", "application/json"), ("x-adobe-commerce-webhook-signature", signature),
        ("x-request-id", UUID().uuidString.lowercased()),
      ], tamper == .forged ? Self.forge(body) : body
    )
  }

  /// The body with its grand total raised: what an attacker would change.
  static func forge(_ body: [UInt8]) -> [UInt8] {
    let text = String(decoding: body, as: UTF8.self)
    return Array(text.replacingOccurrences(of: "\"grand_total\":", with: "\"grand_total\":1").utf8)
  }

  /// A delivery through Adobe I/O Events: the raw body signed twice (one key per header; either verifies), and
  /// `recipient_client_id` naming the integration it is for.
  public func ioEventDelivery(
    type: String, order incrementID: String, tamper: Tamper = .valid, recipient: String? = nil
  )
    -> (headers: [(String, String)], body: [UInt8])?
  {
    guard let order = orderResource(incrementID: incrementID) else { return nil }
    let eventID = UUID().uuidString.lowercased()
    let body = Array(
      AdobeJSON.data([
        "event_id": eventID, "recipient_client_id": recipient ?? config.ioClientID, "type": type,
        "event": ["data": ["value": order]], "source": "urn:uuid:\(config.ioProviderID)",
      ]))
    let keys = tamper == .otherKey ? (RSAKeyPair()!, RSAKeyPair()!) : ioKeys
    return (
      [
        ("Content-Type", "application/json"), ("x-adobe-digital-signature-1", keys.0.sign(body)),
        ("x-adobe-digital-signature-2", keys.1.sign(body)), ("x-adobe-public-key1-path", "/prod/keys/pub-key-1.pem"),
        ("x-adobe-public-key2-path", "/prod/keys/pub-key-2.pem"), ("x-adobe-event-id", eventID),
      ],
      tamper == .forged ? Self.forge(body) : body
    )
  }

  /// Sends order `incrementID`'s event to every subscribed URL (the Webhooks module's, or I/O Events' when the
  /// subscription says so).
  func fire(event: String, order incrementID: String) {
    let targets = state.withLock { $0.subscriptions }
    for target in targets {
      let delivery =
        target.io
        ? ioEventDelivery(type: "com.adobe.commerce." + event, order: incrementID)
        : webhookDelivery(event: event, order: incrementID)
      guard let delivery else { continue }
      var request = MLHostSystems.HTTPRequest(method: "POST", url: target.url, body: delivery.body)
      request.timeout = 5
      request.headers = delivery.headers
      HTTPClient.shared.send(request) { [self] result in
        // The Webhooks module acts on the reply (I/O Events only wants a 2xx).
        guard !target.io else { return }
        let reply = try? result.get()
        if !Self.takesForSuccess(status: reply?.status ?? 0, body: reply?.body ?? []) {
          count("webhook_replies_refused")
        }
      }
    }
  }

  /// How the Webhooks module reads an endpoint's reply: a 200 with the JSON object `{"op":"success"}`; anything
  /// else is a failed hook.
  public static func takesForSuccess(status: Int, body: [UInt8]) -> Bool {
    guard status == 200, let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
      return false
    }
    return object["op"] as? String == "success"
  }

  /// Sends order events to `url` from now on; `io`: as Adobe I/O Events deliveries.
  public func subscribe(url: String, io: Bool = false) {
    state.withLock { s in
      if !s.subscriptions.contains(where: { $0.url == url }) { s.subscriptions.append((url, io)) }
    }
  }
}
