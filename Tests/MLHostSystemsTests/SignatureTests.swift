import Foundation
import MLHostRuntime
import MLHostSystems
import MLHostTesting
import Testing

/// Signature presets against vectors computed outside this code base: HMAC values by Python's `hmac`, the RSA
/// key pair and signature by Python's `cryptography` (see Fixtures/make_vectors.py).
@Suite struct SignatureTests {
  let secret = Credential(
    name: "s", type: .webhook_secret, fields: ["secret": "hush-current", "previous": "hush-old"])

  @Test func shopifyAcceptsCurrentAndPreviousSecretsOnly() throws {
    let v = try Vectors.webhooks()
    let body = Array(v["body"]!.utf8)
    for (sig, expected) in [(v["hmac_current"]!, WebhookVerifier.Verdict.valid), (v["hmac_previous"]!, .valid)] {
      #expect(
        WebhookVerifier.verify(
          .shopify, header: nil, headers: ["x-shopify-hmac-sha256": sig], body: body, credential: secret) == expected)
    }
    if case .valid = WebhookVerifier.verify(
      .shopify, header: nil, headers: ["x-shopify-hmac-sha256": v["hmac_other"]!], body: body, credential: secret)
    {
      Issue.record("a signature under an unknown secret was accepted")
    }
    if case .valid = WebhookVerifier.verify(.shopify, header: nil, headers: [:], body: body, credential: secret) {
      Issue.record("a missing signature was accepted")
    }
    let tampered = body + Array(" ".utf8)
    if case .valid = WebhookVerifier.verify(
      .shopify, header: nil, headers: ["x-shopify-hmac-sha256": v["hmac_current"]!], body: tampered, credential: secret)
    {
      Issue.record("a tampered body was accepted")
    }
  }

  @Test func wooCommerceSignatureAndUnsignedPing() throws {
    let v = try Vectors.webhooks()
    let body = Array(v["body"]!.utf8)
    #expect(
      WebhookVerifier.verify(
        .woocommerce, header: nil, headers: ["x-wc-webhook-signature": v["hmac_current"]!], body: body,
        credential: secret) == .valid)
    #expect(
      WebhookVerifier.verify(
        .woocommerce, header: nil, headers: [:], body: Array("webhook_id=17".utf8), credential: secret) == .ping)
    // A "ping" that claims to be a real delivery is not a ping.
    if case .ping = WebhookVerifier.verify(
      .woocommerce, header: nil, headers: ["x-wc-webhook-id": "17"], body: Array("webhook_id=17".utf8),
      credential: secret)
    {
      Issue.record("a delivery was treated as a ping")
    }
  }

  @Test func genericHMACPresetReadsTheNamedHeader() throws {
    let v = try Vectors.webhooks()
    let body = Array(v["body"]!.utf8)
    #expect(
      WebhookVerifier.verify(
        .hmac, header: "X-Signature", headers: ["x-signature": v["hmac_current"]!], body: body, credential: secret)
        == .valid)
  }

  @Test func adobeRSASignatureOverBase64Body() throws {
    let v = try Vectors.webhooks()
    let body = Array(v["body"]!.utf8)
    let key = Credential(name: "a", type: .adobe_webhook_key, fields: ["public_key": v["rsa_public_pem"]!])
    #expect(
      WebhookVerifier.verify(
        .adobe_commerce, header: nil, headers: ["x-adobe-commerce-webhook-signature": v["rsa_signature"]!], body: body,
        credential: key) == .valid)
    if case .valid = WebhookVerifier.verify(
      .adobe_commerce, header: nil, headers: ["x-adobe-commerce-webhook-signature": v["rsa_signature_raw_body"]!],
      body: body, credential: key)
    {
      Issue.record("a signature over the raw body (not its base64) was accepted")
    }
  }
}
