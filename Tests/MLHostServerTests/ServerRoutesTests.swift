import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MLHostRuntime
import MLHostServer
import MLHostSystems
import MLHostTesting
import Testing

/// The receiver's and the admin API's routes, in process through Hummingbird's router test client (no socket):
/// what each answers to good and bad requests, and what a request leaves in the store.
@Suite struct ServerRoutesTests {
  static let script = """
    local c = mlhost.connector { name = "hook" }
    c:on_webhook("shopify", "orders/create", function(job, delivery)
      job:record("shop.order", delivery.payload.id, delivery.payload)
    end)
    c:handler("shop.order", function(rec) return rec:created("erp", "INV-1") end)
    c:job("main", function() end)
    return c
    """

  func setUp() async throws -> (TempConnector, ConnectorHost, CredentialVault) {
    let c = try TempConnector(script: Self.script)
    let vault = try CredentialVault(directory: c.directory.appendingPathComponent("state"))
    try vault.set(Credential(name: "hook.shopify", type: .webhook_secret, fields: ["secret": "hush"]))
    return (c, try await c.host(), vault)
  }

  @Test func theReceiverQueuesOnlySignedDeliveriesAndRefusesTheRest() async throws {
    let (c, host, vault) = try await setUp()
    defer { c.remove() }
    let ingress = WebhookIngress(host: host, vault: vault, logger: .quiet, bodyLimit: 1024)
    let app = try WebhookServer.application(ingress: ingress, listener: ListenerConfig(port: 0), logger: .quiet)
    try await app.test(.router) { client in
      let body = Array(#"{"id":7,"email":"a@example.com"}"#.utf8)
      let path = "/hooks/hook/orders_create"
      func post(_ body: [UInt8], _ headers: HTTPFields) async throws -> (Int, String) {
        try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(bytes: body)) {
          ($0.status.code, String(buffer: $0.body))
        }
      }
      func headers(secret: String, length: Int? = nil) -> HTTPFields {
        var h: HTTPFields = [
          .contentType: "application/json", .init("X-Shopify-Hmac-Sha256")!: shopifySignature(body, secret: secret),
          .init("X-Shopify-Webhook-Id")!: "d-1",
        ]
        if let length { h[.contentLength] = String(length) }
        return h
      }
      let signed = headers(secret: "hush")
      let forged = headers(secret: "guess")

      #expect(try await post(body, forged).0 == 401)
      #expect(try await post(body, [.contentType: "application/json"]).0 == 401)
      let big = Array(repeating: UInt8(ascii: "a"), count: 2048)
      let (status, message) = try await post(big, headers(secret: "hush", length: big.count))
      #expect(status == 413)
      #expect(message.contains("body larger than 1024 bytes"))
      #expect(try await host.store.stats().jobsByState.isEmpty)

      #expect(try await post(body, signed).0 == 200)
      #expect(try await post(body, signed).0 == 200)  // the same delivery again: answered, not queued twice
      #expect(try await host.store.stats().jobsByState["queued"] == 1)

      try await client.execute(uri: path, method: .get) { response in
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers[.allow] == "POST")
      }
      try await client.execute(
        uri: "/hooks/nobody/orders_create", method: .post, headers: signed,
        body: ByteBuffer(bytes: body)
      ) { #expect($0.status == .notFound) }
    }
  }

  @Test func theAdminAPIWantsItsTokenAndRefusesBadInputAtTheDoor() async throws {
    let (c, host, _) = try await setUp()
    defer { c.remove() }
    let token = "an-admin-token-long-enough-to-be-safe"
    let app = try AdminServer.application(host: host, token: token, listener: ListenerConfig(port: 0), logger: .quiet)
    try await app.test(.router) { client in
      let auth: HTTPFields = [.authorization: "Bearer \(token)"]
      try await client.execute(uri: "/healthz", method: .get) { #expect(String(buffer: $0.body) == "ok\n") }
      try await client.execute(uri: "/status", method: .get) { #expect($0.status == .unauthorized) }
      try await client.execute(uri: "/status", method: .get, headers: [.authorization: "Bearer guess"]) {
        #expect($0.status == .unauthorized)
      }
      try await client.execute(uri: "/status", method: .get, headers: auth) { #expect($0.status == .ok) }
      try await client.execute(
        uri: "/trigger/hook/main", method: .post, headers: auth, body: ByteBuffer(string: "{not json")
      ) {
        #expect($0.status == .badRequest)
      }
      try await client.execute(uri: "/trigger/hook/nothing", method: .post, headers: auth) { response in
        #expect(response.status == .notFound)
        #expect(String(buffer: response.body).contains("has no job 'nothing'"))
      }
      #expect(try await host.store.stats().jobsByState.isEmpty)
      try await client.execute(
        uri: "/trigger/hook/main", method: .post, headers: auth, body: ByteBuffer(string: "[1, 2]")
      ) {
        #expect($0.status == .ok)
        #expect(String(buffer: $0.body).contains("job_id"))
      }
      #expect(try await host.store.stats().jobsByState["queued"] == 1)
      try await client.execute(uri: "/replay/abc", method: .post, headers: auth) { #expect($0.status == .badRequest) }
      try await client.execute(uri: "/replay", method: .post, headers: auth) { #expect($0.status == .badRequest) }
      try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
        #expect(response.status == .ok)
        #expect(String(buffer: response.body).contains("mlhost_"))
      }
    }
  }

  /// The Adobe Commerce Webhooks module calls during its own operation and acts on the reply: a stored delivery is
  /// answered `{"op":"success"}` as JSON, a forged one 401 (signature by `cryptography` over base64(body)).
  @Test func anAdobeCommerceDeliveryIsAnsweredWithTheWebhooksModulesSuccessReply() async throws {
    let v = try Vectors.adobe()
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "shop" }
        c:on_webhook("adobe_commerce", "observer.sales_order_save_after", function() end, { name = "orders" })
        return c
        """)
    defer { c.remove() }
    let vault = try CredentialVault(directory: c.directory.appendingPathComponent("state"))
    try vault.set(
      Credential(name: "shop.adobe_commerce", type: .adobe_webhook_key, fields: ["public_key": v["io_key1"]!]))
    let ingress = WebhookIngress(host: try await c.host(), vault: vault, logger: .quiet)
    let app = try WebhookServer.application(ingress: ingress, listener: ListenerConfig(port: 0), logger: .quiet)
    try await app.test(.router) { client in
      func post(signature: String) async throws -> (Int, String?, String) {
        try await client.execute(
          uri: "/hooks/shop/orders", method: .post,
          headers: [.contentType: "application/json", .init("x-adobe-commerce-webhook-signature")!: signature],
          body: ByteBuffer(string: v["io_body"]!)
        ) { ($0.status.code, $0.headers[.contentType], String(buffer: $0.body)) }
      }
      let (status, type, body) = try await post(signature: v["io_sig1_over_base64"]!)
      #expect(status == 200)
      #expect(type == "application/json")
      #expect(body == #"{"op":"success"}"#)
      #expect(try await post(signature: v["io_sig_other"]!).0 == 401)
    }
  }
}
