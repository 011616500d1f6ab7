import Foundation
import MLHostSystems

/// The simulated WooCommerce store's part of the sandbox: its credentials, the settings that point a connector's
/// `woocommerce` section at it, and the webhooks a merchant would have registered for a connector.
extension Sandbox {
  /// The store's read-write key (OAuth 1.0a over the sandbox's plain HTTP) and the webhook secret, both bound to
  /// the store's origin: the secret goes there inside `POST /webhooks` when the connector registers a webhook.
  public func woocommerceCredentials(name: String = "woocommerce", webhooks: String = "woocommerce_webhooks")
    -> [Credential]
  {
    [
      Credential(
        name: name, type: .woocommerce,
        fields: [
          "consumer_key": woocommerce.config.consumerKey, "consumer_secret": woocommerce.config.consumerSecret,
        ], origins: [woocommerceURL]),
      Credential(
        name: name + "_readonly", type: .woocommerce,
        fields: [
          "consumer_key": woocommerce.config.readOnlyKey, "consumer_secret": woocommerce.config.readOnlySecret,
        ], origins: [woocommerceURL]),
      Credential(
        name: webhooks, type: .webhook_secret, fields: ["secret": woocommerce.config.webhookSecret],
        origins: [woocommerceURL]),
    ]
  }

  /// `woocommerce.*` settings (`--set` style paths).
  public var woocommerceSettings: [String: String] {
    [
      "woocommerce.url": woocommerceURL, "woocommerce.credential": "woocommerce",
      "woocommerce.webhook_credential": "woocommerce_webhooks",
    ]
  }

  /// Registers, for each WooCommerce webhook `connector` declares (its topic and route name), a store webhook
  /// delivering to `<base>/hooks/<connector>/<name>` with the sandbox's secret, as the merchant's admin would.
  public func subscribeWooCommerceWebhooks(
    base url: String, connector: String, declared: [(topic: String, name: String)]
  ) {
    for hook in declared {
      let uri = "\(url)/hooks/\(connector)/\(hook.name)"
      if !woocommerce.webhookList.contains(where: { $0.topic == hook.topic && $0.url == uri }) {
        woocommerce.addWebhook(topic: hook.topic, url: uri)
      }
    }
  }
}
