import Foundation
import MLHostCore
import MLHostRuntime
import MLHostSystems
import MLHostTesting
import Testing

/// Adobe Commerce's signatures against values made by independent implementations (Fixtures/adobe_vectors.json:
/// oauthlib for OAuth 1.0a, `cryptography` for Adobe I/O Events' RSA signatures).
@Suite struct AdobeSignatureTests {
  static func sign(_ v: [String: String], _ algorithm: Digest.Algorithm) -> String? {
    OAuth1.sign(
      method: "GET", url: v["url"]!, consumerKey: "ck-adobe", consumerSecret: "cs+adobe/1", token: "at-adobe",
      tokenSecret: "ts&adobe", nonce: "n0nce-1", timestamp: 1_764_547_200, algorithm: algorithm)?.header
  }

  @Test func oauth1SHA256AndSHA1MatchOauthlibWithStoreCodeAndBrackets() throws {
    let v = try Vectors.adobe()
    let sha256 = try #require(Self.sign(v, .sha256))
    #expect(
      AuthVectorTests.param("oauth_signature", in: sha256)
        == AuthVectorTests.param("oauth_signature", in: v["sha256_authorization"]!))
    let sha1 = try #require(Self.sign(v, .sha1))
    #expect(sha1.contains(#"oauth_signature_method="HMAC-SHA1""#))
    #expect(
      AuthVectorTests.param("oauth_signature", in: sha1)
        == AuthVectorTests.param("oauth_signature", in: v["sha1_authorization"]!))
    #expect(AuthVectorTests.param("oauth_signature", in: sha1) != AuthVectorTests.param("oauth_signature", in: sha256))
    #expect(
      OAuth1.sign(
        method: "GET", url: v["url"]!, consumerKey: "a", consumerSecret: "b", token: nil, tokenSecret: nil,
        nonce: "n", timestamp: 1, algorithm: .sha512) == nil)
  }

  func io(_ v: [String: String], clientID: String = "client-xyz") -> Credential {
    Credential(
      name: "io", type: .adobe_io_events,
      fields: ["public_key1": v["io_key1"]!, "public_key2": v["io_key2"]!, "client_id": clientID])
  }

  @Test func ioEventsEitherSignatureVerifies() throws {
    let v = try Vectors.adobe()
    let body = Array(v["io_body"]!.utf8)
    let both = ["x-adobe-digital-signature-1": v["io_sig1"]!, "x-adobe-digital-signature-2": v["io_sig2"]!]
    #expect(WebhookVerifier.verify(.adobe_io, header: nil, headers: both, body: body, credential: io(v)) == .valid)
    // Key 1 rotated away: the second signature alone carries it, and the other way round.
    let onlySecond = ["x-adobe-digital-signature-1": v["io_sig_other"]!, "x-adobe-digital-signature-2": v["io_sig2"]!]
    #expect(
      WebhookVerifier.verify(.adobe_io, header: nil, headers: onlySecond, body: body, credential: io(v)) == .valid)
    let onlyFirst = ["x-adobe-digital-signature-1": v["io_sig1"]!]
    #expect(WebhookVerifier.verify(.adobe_io, header: nil, headers: onlyFirst, body: body, credential: io(v)) == .valid)
  }

  @Test func ioEventsRefusesOtherKeysAlteredBodiesAndOtherRecipients() throws {
    let v = try Vectors.adobe()
    let body = Array(v["io_body"]!.utf8)
    let other = ["x-adobe-digital-signature-1": v["io_sig_other"]!, "x-adobe-digital-signature-2": v["io_sig_other"]!]
    #expect(WebhookVerifier.verify(.adobe_io, header: nil, headers: other, body: body, credential: io(v)) != .valid)
    let good = ["x-adobe-digital-signature-1": v["io_sig1"]!, "x-adobe-digital-signature-2": v["io_sig2"]!]
    var altered = body
    altered[altered.count - 3] = UInt8(ascii: "7")
    #expect(WebhookVerifier.verify(.adobe_io, header: nil, headers: good, body: altered, credential: io(v)) != .valid)
    // Signed by Adobe, but for another integration.
    #expect(
      WebhookVerifier.verify(
        .adobe_io, header: nil, headers: good, body: body, credential: io(v, clientID: "someone-else")) != .valid)
    // A signature over base64(body) is the Webhooks module's form, not I/O Events'.
    let webhookForm = ["x-adobe-digital-signature-1": v["io_sig1_over_base64"]!]
    #expect(
      WebhookVerifier.verify(.adobe_io, header: nil, headers: webhookForm, body: body, credential: io(v)) != .valid)
    #expect(WebhookVerifier.verify(.adobe_io, header: nil, headers: [:], body: body, credential: io(v)) != .valid)
  }

  @Test func webhooksModuleHMACModeWithASharedSecret() throws {
    let v = try Vectors.webhooks()
    let body = Array(v["body"]!.utf8)
    let secret = Credential(name: "s", type: .webhook_secret, fields: ["secret": "hush-current"])
    #expect(
      WebhookVerifier.verify(
        .adobe_commerce, header: nil, headers: ["x-adobe-commerce-webhook-signature": v["hmac_current"]!],
        body: body, credential: secret) == .valid)
    #expect(
      WebhookVerifier.verify(
        .adobe_commerce, header: nil, headers: ["x-adobe-commerce-webhook-signature": v["hmac_other"]!],
        body: body, credential: secret) != .valid)
  }

  @Test func challengeIsEchoedOnlyWhenPlausible() {
    #expect(WebhookVerifier.challengeAnswer("abc-123") == #"{"challenge":"abc-123"}"#)
    #expect(WebhookVerifier.challengeAnswer("") == nil)
    #expect(WebhookVerifier.challengeAnswer("a\"b") == nil)
    #expect(WebhookVerifier.challengeAnswer(String(repeating: "x", count: 300)) == nil)
  }
}
