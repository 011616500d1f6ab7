import Foundation
import MLHostSystems

/// The sandbox's Adobe Commerce: its credentials (an OAuth 1.0a integration bound to its origin, an admin login,
/// the Webhooks module's public key, Adobe I/O Events' two keys), the settings under section `adobe`, its counters.
extension Sandbox {
  func adobeCredentials() -> [Credential] {
    let c = adobe.config
    let io = adobe.ioPublicKeys
    return [
      Credential(
        name: "adobe", type: .oauth1,
        fields: [
          "consumer_key": c.consumerKey, "consumer_secret": c.consumerSecret, "token": c.accessToken,
          "token_secret": c.accessTokenSecret,
        ], origins: [adobeURL]),
      Credential(
        name: "adobe_admin", type: .adobe_admin,
        fields: [
          "token_url": adobeURL + "/rest/V1/integration/admin/token", "username": c.adminUser,
          "password": c.adminPassword,
        ], origins: [adobeURL]),
      Credential(name: "adobe_webhooks", type: .adobe_webhook_key, fields: ["public_key": adobe.webhookPublicKey]),
      Credential(
        name: "adobe_io", type: .adobe_io_events,
        fields: ["public_key1": io.0, "public_key2": io.1, "client_id": c.ioClientID]),
    ]
  }

  /// The sandbox's settings under `sections` only (`["shopify", "x3"]`), for a command line's `--set`: a connector
  /// refuses settings of a section it does not have.
  public func settings(for sections: Set<String>) -> [String: String] {
    settings.filter { sections.contains(String($0.key.prefix { $0 != "." })) }
  }

  var adobeSettings: [String: String] {
    [
      "adobe.url": adobeURL, "adobe.credential": "adobe", "adobe.webhook_credential": "adobe_webhooks",
      "adobe.version": adobe.config.version,
    ]
  }

  var adobeCounters: [String: Int] {
    var out: [String: Int] = ["adobe.faults_injected": adobe.faultsInjected]
    for (k, v) in adobe.counts { out["adobe." + k] = v }
    for (k, v) in x3.purchasingCounts { out["x3." + k] = v }
    return out
  }

  /// Points the store's order events at `url` (`…/hooks/<connector>/<name>`), as the Admin's webhook
  /// subscription would.
  public func subscribeAdobeWebhooks(base url: String, connector: String, name: String = "order") {
    adobe.subscribe(url: "\(url)/hooks/\(connector)/\(name)")
  }

  /// Sends the last OAuth-signed GET the store accepted once more, byte for byte (its nonce used again, as a
  /// replaying attacker would); answers the status, which must be 401.
  public func replayLastAdobeRequest() async -> Int {
    guard let last = adobe.lastSignedRequest else { return 0 }
    var request = MLHostSystems.HTTPRequest(method: "GET", url: adobeURL + last.uri)
    request.headers = [("Authorization", last.authorization)]
    request.timeout = 5
    switch await HTTPClient.shared.send(request) {
    case .success(let r): return r.status
    case .failure: return 0
    }
  }
}
