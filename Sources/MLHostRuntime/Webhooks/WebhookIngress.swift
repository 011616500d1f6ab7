import Foundation
import Logging
import MLHostCore
import MLHostModules
import MLHostStore
import MLHostSystems

/// Takes webhook deliveries: finds the declared webhook, checks size and signature natively, de-duplicates by
/// delivery id and commits the delivery to the queue; only then does it answer 2xx. No Lua runs here.
public final class WebhookIngress: @unchecked Sendable {
  public struct Answer: Sendable, Equatable {
    public var status: Int
    public var message: String
    public var contentType = "text/plain; charset=utf-8"

    /// What the Adobe Commerce Webhooks module reads as success: it calls during its own operation and acts on the
    /// reply, so anything but `{"op":"success"}` would be taken for a failed hook.
    static let adobeSuccess = Answer(status: 200, message: #"{"op":"success"}"#, contentType: "application/json")
  }

  let host: ConnectorHost
  private let vault: CredentialVault?
  private let logger: Logger
  public let bodyLimit: Int
  /// The headers a job sees (signatures excluded: nothing in Lua needs them).
  static let keptHeaders: Set<String> = [
    "x-shopify-topic", "x-shopify-shop-domain", "x-shopify-api-version", "x-shopify-webhook-id",
    "x-shopify-triggered-at", "x-shopify-event-id", "x-wc-webhook-source", "x-wc-webhook-topic",
    "x-wc-webhook-resource", "x-wc-webhook-event", "x-wc-webhook-id", "x-wc-webhook-delivery-id", "content-type",
  ]

  public init(host: ConnectorHost, vault: CredentialVault?, logger: Logger, bodyLimit: Int = 1 << 20) {
    self.host = host
    self.vault = vault
    self.logger = logger
    self.bodyLimit = bodyLimit
  }

  /// The vault keeps what it opened until its file changes: a secret set with `creds set` while the host runs is
  /// checked from the next delivery on.
  private func credential(_ name: String) throws -> Credential? { try vault?.get(name) }

  /// Handles one POST to `/hooks/<connector>/<name>`. `headers` keys must be lowercase.
  public func receive(connector: String, name: String, headers: [String: String], body: [UInt8]) async -> Answer {
    let start = Date()
    let answer = await decide(connector: connector, name: name, headers: headers, body: body)
    host.metrics.delivery(connector: connector, result: answer.result, seconds: Date().timeIntervalSince(start))
    if answer.status == 200, host.routes.webhook(connector: connector, name: name)?.system == .adobe_commerce {
      return .adobeSuccess
    }
    return Answer(status: answer.status, message: answer.message)
  }

  private func decide(connector: String, name: String, headers: [String: String], body: [UInt8]) async
    -> (status: Int, message: String, result: String)
  {
    guard let hook = host.routes.webhook(connector: connector, name: name) else {
      return (404, "no webhook \(name) for connector \(connector)", "unknown_route")
    }
    guard body.count <= bodyLimit else { return (413, "body larger than \(bodyLimit) bytes", "too_large") }
    let credentialName = hook.secret ?? "\(connector).\(hook.system.rawValue)"
    let secret: Credential
    do {
      guard let c = try credential(credentialName) else {
        logger.error(
          "webhook secret missing: store it with `mlhost creds set \(credentialName) ...`",
          metadata: ["connector": .string(connector), "webhook": .string(name)])
        return (503, "webhook not configured", "unconfigured")
      }
      secret = c
    } catch {
      logger.error("cannot read credential \(credentialName): \(error)")
      return (503, "webhook not configured", "unconfigured")
    }
    let admission = Self.admit(hook, headers: headers, body: body, secret: secret)
    let prepared: (input: [UInt8], orderingKey: String?, deliveryID: String)
    switch admission {
    case .ping:
      logger.info("webhook ping answered", metadata: ["connector": .string(connector), "webhook": .string(name)])
      return (200, "ok", "ping")
    case .badSignature(let why):
      // A security event: never log the body, which an attacker chose.
      logger.warning(
        "webhook rejected: \(why)",
        metadata: [
          "event": "security", "connector": .string(connector), "webhook": .string(name),
          "bytes": .stringConvertible(body.count),
        ])
      return (401, "bad signature", "bad_signature")
    case .malformed(let why):
      return (400, why, "malformed")
    case .queue(let input, let orderingKey, let deliveryID):
      prepared = (input, orderingKey, deliveryID)
    }
    let now = host.now
    let job = NewJob(
      connector: connector, job: hook.job, input: String(decoding: prepared.input, as: UTF8.self), trigger: .webhook,
      orderingKey: prepared.orderingKey, maxAttempts: host.maxAttempts, runAt: now)
    let delivery = NewDelivery(source: hook.system.rawValue, deliveryID: prepared.deliveryID, job: job, receivedAt: now)
    do {
      switch try await host.store.enqueue(delivery: delivery) {
      case .queued:
        host.wake.signal()
        return (200, "ok", "queued")
      case .duplicate:
        return (200, "duplicate delivery", "duplicate")
      }
    } catch {
      logger.error("storing a webhook delivery failed: \(error)")
      return (503, "try again", "store_error")
    }
  }
}

extension WebhookIngress {
  /// What the ingress makes of one delivery once its route and secret are known: no I/O, no logging, so the
  /// fuzzer (`FuzzTargets.webhook`) drives the same code as the listener.
  enum Admission: Equatable {
    /// WooCommerce's unsigned creation ping: answered 200, nothing queued.
    case ping
    case badSignature(String)
    case malformed(String)
    /// The job's input (JSON text), its ordering key and the delivery id it is de-duplicated by.
    case queue(input: [UInt8], orderingKey: String?, deliveryID: String)
  }

  /// Checks the signature, then the body, and builds the job's input:
  /// `{"topic", "system", "delivery_id", "headers", "payload"}` with the body inlined as JSON.
  static func admit(_ hook: WebhookDeclaration, headers: [String: String], body: [UInt8], secret: Credential)
    -> Admission
  {
    switch WebhookVerifier.verify(hook.system, header: hook.header, headers: headers, body: body, credential: secret) {
    case .ping: return .ping
    case .invalid(let why): return .badSignature(why)
    case .valid: break
    }
    guard String(validating: body, as: UTF8.self) != nil else { return .malformed("body is not UTF-8 text") }
    let scan = body.withUnsafeBytes { JSONScan.scan($0) }
    // Shopify, WooCommerce and Adobe always send JSON: anything else is refused before it is queued.
    if !scan.valid && hook.system != .hmac { return .malformed("body is not JSON") }
    let deliveryID = WebhookVerifier.deliveryID(hook.system, headers: headers, body: body)
    var input: [UInt8] = []
    input.reserveCapacity(body.count + 512)
    input.append(contentsOf: #"{"topic":"#.utf8)
    JSONText.appendString(hook.topic, to: &input)
    input.append(contentsOf: #","system":"#.utf8)
    JSONText.appendString(hook.system.rawValue, to: &input)
    input.append(contentsOf: #","delivery_id":"#.utf8)
    JSONText.appendString(deliveryID, to: &input)
    input.append(contentsOf: #","headers":{"#.utf8)
    var first = true
    for (k, v) in headers where keptHeaders.contains(k) {
      if !first { input.append(UInt8(ascii: ",")) }
      first = false
      JSONText.appendString(k, to: &input)
      input.append(UInt8(ascii: ":"))
      JSONText.appendString(v, to: &input)
    }
    input.append(contentsOf: #"},"payload":"#.utf8)
    if scan.valid {
      input.append(contentsOf: body)
    } else {
      body.withUnsafeBytes { JSONText.appendString($0, to: &input) }
    }
    input.append(UInt8(ascii: "}"))
    return .queue(
      input: input, orderingKey: scan.topLevelID.map { "\(hook.system.rawValue):\($0)" }, deliveryID: deliveryID)
  }
}
