import Foundation
import MLHostSystems

/// Adobe I/O Events deliveries (API facts §3.6): `x-adobe-digital-signature-1` and `-2` are each base64
/// RSA-SHA256 over the raw body, made with the keys whose public halves the credential holds (`public_key1`,
/// `public_key2`, PEM); either verifying is enough, because Adobe rotates one key while the other still signs.
/// The payload must name this integration in `recipient_client_id`: a delivery signed by Adobe for another
/// client is not ours.
extension WebhookVerifier {
  static func adobeIOEvents(headers: [String: String], body: [UInt8], credential: Credential) -> Verdict {
    let pairs = [("x-adobe-digital-signature-1", "public_key1"), ("x-adobe-digital-signature-2", "public_key2")]
    var present = false
    var verified = false
    for (header, field) in pairs {
      guard let signature = headers[header] else { continue }
      present = true
      guard let pem = credential.fields[field], !pem.isEmpty else { continue }
      if rsaSHA256(signature: signature, message: body, publicKeyPEM: pem) {
        verified = true
        break
      }
    }
    guard present else { return .invalid("missing x-adobe-digital-signature-1 and -2") }
    guard verified else { return .invalid("neither Adobe I/O Events signature verifies") }
    guard let expected = credential.fields["client_id"], !expected.isEmpty else {
      return .invalid("credential has no client_id to check recipient_client_id against")
    }
    guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
      let recipient = object["recipient_client_id"] as? String
    else { return .invalid("payload has no recipient_client_id") }
    guard recipient == expected else { return .invalid("recipient_client_id is not this integration's client id") }
    return .valid
  }

  /// The answer to Adobe I/O Events' registration handshake, `GET <webhook>?challenge=<value>`: the value echoed
  /// as `{"challenge": value}`, or nil when `value` is not a plausible challenge (bounded, printable ASCII).
  public static func challengeAnswer(_ value: String) -> String? {
    guard !value.isEmpty, value.utf8.count <= 256,
      value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
    else { return nil }
    return #"{"challenge":"\#(value)"}"#
  }
}

extension WebhookIngress {
  /// Answers the challenge handshake of a declared Adobe I/O Events webhook; nil for any other route (its GET is
  /// refused as before). Nothing is queued and no Lua runs.
  public func challenge(connector: String, name: String, value: String) -> Answer? {
    guard let hook = host.routes.webhook(connector: connector, name: name), hook.system == .adobe_io else { return nil }
    guard let body = WebhookVerifier.challengeAnswer(value) else {
      return Answer(status: 400, message: "malformed challenge")
    }
    return Answer(status: 200, message: body)
  }
}
