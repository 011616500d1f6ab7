import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostSystems
import MLHostTesting
import Synchronization
import Testing

/// The simulated WooCommerce store against the API facts (§2): its two auth schemes and read-only keys, WordPress
/// paging and errors, local vs GMT date filters, the webhooks resource, signed deliveries, the creation ping and
/// the automatic disable after failed deliveries.
@Suite(.serialized) struct WooCommerceSandboxTests {
  struct Store {
    let sandbox: Sandbox
    let auth: Authenticator
    let state: URL
    var url: String { sandbox.woocommerceURL + "/wp-json/wc/v3" }

    static func start(orders: Int = 24, https: Bool = false) async throws -> Store {
      var options = Sandbox.Options()
      options.orders = orders
      options.woocommerce.https = https
      let sandbox = try await Sandbox.start(options, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
      let state = FileManager.default.temporaryDirectory.appendingPathComponent("woo-sim-\(UUID().uuidString)")
      let vault = try CredentialVault(directory: state)
      for c in sandbox.credentials() { try vault.set(c) }
      return Store(sandbox: sandbox, auth: Authenticator(vault: vault), state: state)
    }

    /// A request signed by the host as a connector's would be (OAuth 1.0a over the sandbox's plain HTTP).
    func send(_ path: String, method: String = "GET", body: String? = nil, credential: String = "woocommerce")
      async throws -> HTTPResponse
    {
      var request = HTTPRequest(method: method, url: url + path, body: body.map { Array($0.utf8) })
      if body != nil { request.headers = [("Content-Type", "application/json")] }
      return try await auth.send(request, credential: credential).get()
    }

    func raw(_ path: String, method: String = "GET", headers: [(String, String)] = []) async throws -> HTTPResponse {
      try await HTTPClient.shared.send(HTTPRequest(method: method, url: url + path, headers: headers)).get()
    }

    func stop() {
      sandbox.stop()
      try? FileManager.default.removeItem(at: state)
    }
  }

  static func json(_ r: HTTPResponse) -> Any? { try? JSONSerialization.jsonObject(with: Data(r.body)) }
  static func code(_ r: HTTPResponse) -> String? { (json(r) as? [String: Any])?["code"] as? String }
  static func message(_ r: HTTPResponse) -> String? { (json(r) as? [String: Any])?["message"] as? String }

  @Test func oauthOverPlainHTTPAndItsRefusals() async throws {
    let store = try await Store.start()
    defer { store.stop() }
    #expect(try await store.send("/orders?per_page=5").status == 200)
    // Basic over plain HTTP is not what WooCommerce reads there: the OAuth parameters are missing.
    let basic =
      "Basic "
      + ByteCodecs.base64(
        Array("\(store.sandbox.woocommerce.config.consumerKey):\(store.sandbox.woocommerce.config.consumerSecret)".utf8)
      )
    let plain = try await store.raw("/orders", headers: [("Authorization", basic)])
    #expect(plain.status == 401 && Self.code(plain) == "woocommerce_rest_authentication_missing_parameter")
    // A signature made with another secret, and a nonce used twice.
    let c = store.sandbox.woocommerce.config
    func signed(secret: String, nonce: String) -> String {
      let s = OAuth1.sign(
        method: "GET", url: store.url + "/orders", consumerKey: c.consumerKey, consumerSecret: secret, token: nil,
        tokenSecret: nil, nonce: nonce, timestamp: Int(Date().timeIntervalSince1970))!
      return "/orders?" + s.parameters.map { "\($0.0)=\(WooCommerceSandboxTests.encode($0.1))" }.joined(separator: "&")
    }
    let wrong = try await store.raw(signed(secret: "cs_wrong", nonce: "n1"))
    #expect(wrong.status == 401 && Self.message(wrong) == "Invalid signature - provided signature does not match.")
    let once = signed(secret: c.consumerSecret, nonce: "n2")
    #expect(try await store.raw(once).status == 200)
    let replayed = try await store.raw(once)
    #expect(replayed.status == 401 && Self.message(replayed) == "Invalid nonce - nonce has already been used.")
  }

  @Test func basicAndQueryKeysOverHTTPS() async throws {
    let store = try await Store.start(https: true)
    defer { store.stop() }
    let c = store.sandbox.woocommerce.config
    func basic(_ k: String, _ s: String) -> (String, String) {
      ("Authorization", "Basic " + ByteCodecs.base64(Array("\(k):\(s)".utf8)))
    }
    #expect(try await store.raw("/orders", headers: [basic(c.consumerKey, c.consumerSecret)]).status == 200)
    let wrong = try await store.raw("/orders", headers: [basic(c.consumerKey, "cs_wrong")])
    #expect(wrong.status == 401 && Self.message(wrong) == "Consumer secret is invalid.")
    #expect(wrong.header("www-authenticate")?.hasPrefix("Basic realm=\"WooCommerce API.") == true)
    let unknown = try await store.raw("/orders", headers: [basic("ck_unknown", "cs_x")])
    #expect(unknown.status == 401 && Self.code(unknown) == "woocommerce_rest_cannot_view")
    // Query parameters take precedence over Basic.
    let query = try await store.raw(
      "/orders?consumer_key=\(c.consumerKey)&consumer_secret=\(c.consumerSecret)",
      headers: [basic(c.consumerKey, "cs_wrong")])
    #expect(query.status == 200)
  }

  @Test func readOnlyKeysReadButDoNotWrite() async throws {
    let store = try await Store.start()
    defer { store.stop() }
    #expect(try await store.send("/orders/1001", credential: "woocommerce_readonly").status == 200)
    let write = try await store.send(
      "/orders/batch", method: "POST",
      body: #"{"update":[{"id":1001,"meta_data":[{"key":"_x3_invoice","value":"X"}]}]}"#,
      credential: "woocommerce_readonly")
    #expect(write.status == 401 && Self.message(write) == "The API key provided does not have write permissions.")
    #expect(store.sandbox.woocommerce.order(1001)?.meta.isEmpty == true)
  }

  @Test func pagingHeadersLimitsAndErrors() async throws {
    let store = try await Store.start()
    defer { store.stop() }
    let first = try await store.send("/orders?per_page=10&page=1")
    #expect(first.header("x-wp-total") == "24" && first.header("x-wp-totalpages") == "3")
    #expect(first.header("link")?.contains("page=2>; rel=\"next\"") == true)
    #expect((Self.json(first) as? [Any])?.count == 10)
    let beyond = try await store.send("/orders?per_page=10&page=4")
    #expect(beyond.status == 200 && (Self.json(beyond) as? [Any])?.isEmpty == true)
    let tooMany = try await store.send("/orders?per_page=101")
    #expect(tooMany.status == 400 && Self.code(tooMany) == "rest_invalid_param")
    let missing = try await store.send("/orders/99999")
    #expect(
      missing.status == 404 && Self.code(missing) == "woocommerce_rest_shop_order_invalid_id"
        && Self.message(missing) == "Invalid ID.")
    // Money as strings, the line price a number, GMT dates without a zone suffix.
    let order = try #require(Self.json(try await store.send("/orders/1001")) as? [String: Any])
    #expect(order["total"] is String && order["total_tax"] is String)
    #expect(((order["line_items"] as? [[String: Any]])?.first?["price"]) is NSNumber)
    #expect((order["date_modified_gmt"] as? String)?.count == 19)
  }

  /// The same `modified_after` text is site-local time without `dates_are_gmt`, UTC with it (the site is UTC+1).
  @Test func dateFiltersAreLocalUnlessGMT() async throws {
    let store = try await Store.start(orders: 1)
    defer { store.stop() }
    let order = try #require(Self.json(try await store.send("/orders/1001")) as? [String: Any])
    let gmt = try #require(order["date_modified_gmt"] as? String)
    #expect(order["date_modified"] as? String != gmt)
    let local = try await store.send("/orders?modified_after=\(gmt)")
    #expect((Self.json(local) as? [Any])?.count == 1)  // read as UTC+1: an hour earlier, so the order is after it
    let utc = try await store.send("/orders?modified_after=\(gmt)&dates_are_gmt=true")
    #expect((Self.json(utc) as? [Any])?.isEmpty == true)  // exclusive: not after itself
  }

  @Test func customersAreOnePerEmail() async throws {
    let store = try await Store.start()
    defer { store.stop() }
    let dup = try await store.send(
      "/customers", method: "POST", body: #"{"email":"ZOE.FAURE@example.com","first_name":"Zoë"}"#)
    #expect(dup.status == 400 && Self.code(dup) == "registration-error-email-exists")
    let new = try await store.send("/customers", method: "POST", body: #"{"email":"new.buyer@example.org"}"#)
    #expect(new.status == 201)
  }

  /// A product's SKU is the store's one (whatever the case); prices are strings; created drafts are listed by SKU.
  @Test func productsAreOnePerSKU() async throws {
    let store = try await Store.start()
    defer { store.stop() }
    let dup = try await store.send(
      "/products", method: "POST", body: #"{"name":"Mug","sku":"mug-cafe","status":"draft"}"#)
    #expect(
      dup.status == 400 && Self.code(dup) == "product_invalid_sku" && Self.message(dup) == "Invalid or duplicated SKU.")
    let number = try await store.send(
      "/products", method: "POST", body: #"{"name":"Lamp","sku":"LAMP-1","regular_price":12.5}"#)
    #expect(number.status == 400 && Self.code(number) == "rest_invalid_param")
    let new = try await store.send(
      "/products", method: "POST", body: #"{"name":"Lamp","sku":"LAMP-1","status":"draft"}"#)
    #expect(new.status == 201)
    let listed = try #require(Self.json(try await store.send("/products?sku=LAMP-1")) as? [[String: Any]])
    #expect(listed.count == 1 && listed.first?["status"] as? String == "draft")
  }

  /// Registration pings the URL (unsigned, form body); deliveries are signed over the exact body; an API update
  /// fires order.updated; the 7th failure in a row disables the webhook and nothing is retried.
  @Test func webhooksPingSignAndDisableAfterFailures() async throws {
    let store = try await Store.start()
    defer { store.stop() }
    let woo = store.sandbox.woocommerce
    let received = Mutex<[(headers: [(String, String)], body: [UInt8])]>([])
    let answer = Mutex(200)
    woo.transport = { _, headers, body in
      received.withLock { $0.append((headers, body)) }
      return answer.withLock { $0 }
    }
    let bad = try await store.send(
      "/webhooks", method: "POST", body: #"{"topic":"order.shipped","delivery_url":"http://r.test/h"}"#)
    #expect(bad.status == 400 && Self.code(bad) == "woocommerce_rest_shop_webhook_invalid_topic")
    let created = try await store.send(
      "/webhooks", method: "POST",
      body: #"{"topic":"order.updated","delivery_url":"http://r.test/h","secret":"s3cret"}"#)
    #expect(created.status == 201 && created.header("location")?.hasPrefix("/wp-json/wc/v3/webhooks/") == true)
    #expect((Self.json(created) as? [String: Any])?["secret"] == nil)  // only in context=edit
    let ping = try #require(received.withLock { $0.first })
    #expect(String(decoding: ping.body, as: UTF8.self).hasPrefix("webhook_id="))
    #expect(!ping.headers.contains { $0.0.lowercased().hasPrefix("x-wc-webhook") })
    let id = try #require((Self.json(created) as? [String: Any])?["id"] as? Int)
    #expect(try await store.send("/webhooks/\(id)", method: "DELETE").status == 501)

    // An update through the API fires order.updated, signed.
    #expect(
      try await store.send(
        "/orders/batch", method: "POST",
        body: #"{"update":[{"id":1001,"meta_data":[{"key":"_x3_invoice","value":"SIH1"}]}]}"#
      ).status == 200)
    // Orders are written only through the batch (API facts §2.3).
    #expect(try await store.send("/orders/1001", method: "PUT", body: #"{"status":"completed"}"#).status == 404)
    #expect(await eventually(within: 5) { received.withLock { $0.count } == 2 })
    let delivery = try #require(received.withLock { $0.last })
    let headers = Dictionary(delivery.headers.map { ($0.0.lowercased(), $0.1) }) { _, b in b }
    #expect(headers["x-wc-webhook-topic"] == "order.updated" && headers["x-wc-webhook-resource"] == "order")
    let secret = Credential(name: "s", type: .webhook_secret, fields: ["secret": "s3cret"])
    #expect(
      WebhookVerifier.verify(.woocommerce, header: nil, headers: headers, body: delivery.body, credential: secret)
        == .valid)

    // Failures: six raise the count, the seventh disables; a disabled webhook delivers nothing.
    answer.withLock { $0 = 503 }
    for i in 1...7 {
      woo.changeOrder(1001, status: i % 2 == 0 ? "processing" : "on-hold")
      #expect(await eventually(within: 5) { woo.deliveriesInFlight == 0 })
      let status = woo.webhookList.first { $0.id == id }?.status
      #expect(status == (i < 7 ? "active" : "disabled"), "after failure \(i)")
    }
    let before = received.withLock { $0.count }
    woo.changeOrder(1001, status: "completed")
    try await Task.sleep(nanoseconds: 200_000_000)
    #expect(received.withLock { $0.count } == before)
    #expect(woo.counters["webhooks_disabled"] == 1 && woo.counters["deliveries_failed"] == 7)
  }

  /// `secret_json`: the host adds the stored webhook secret to a registration's body toward the store it is bound
  /// to, and refuses to send it anywhere else.
  @Test func aWebhookSecretGoesOnlyToItsOwnStore() async throws {
    let store = try await Store.start(orders: 0)
    defer { store.stop() }
    store.sandbox.woocommerce.transport = { _, _, _ in 200 }
    var request = HTTPRequest(
      method: "POST", url: store.url + "/webhooks", headers: [("Content-Type", "application/json")],
      body: Array(#"{"topic":"order.created","delivery_url":"http://r.test/h"}"#.utf8))
    request.embeddedSecret = .init(key: "secret", credential: "woocommerce_webhooks")
    let created = try await store.auth.send(request, credential: "woocommerce").get()
    #expect(created.status == 201)
    let id = try #require((Self.json(created) as? [String: Any])?["id"] as? Int)
    let edit = try #require(Self.json(try await store.send("/webhooks/\(id)?context=edit")) as? [String: Any])
    #expect(edit["secret"] as? String == store.sandbox.woocommerce.config.webhookSecret)
    // A secret bound to another origin is not added, and the request is not sent.
    let vault = try CredentialVault(directory: store.state)
    try vault.set(
      Credential(
        name: "elsewhere", type: .webhook_secret, fields: ["secret": "s"], origins: ["https://other.example.com"]))
    request.embeddedSecret = .init(key: "secret", credential: "elsewhere")
    let before = store.sandbox.woocommerce.counters["webhooks_created"]
    guard case .failure(let refused) = await Authenticator(vault: vault).send(request, credential: "woocommerce") else {
      Issue.record("the secret went to another origin")
      return
    }
    #expect(refused.detail.contains("refused for http://127.0.0.1"), "\(refused)")
    #expect(store.sandbox.woocommerce.counters["webhooks_created"] == before)
  }

  static func encode(_ s: String) -> String {
    s.addingPercentEncoding(
      withAllowedCharacters: CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? s
  }
}
