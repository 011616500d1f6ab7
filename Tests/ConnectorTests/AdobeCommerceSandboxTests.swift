import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostSystems
import MLHostTesting
import Testing

/// The simulated Adobe Commerce store is strict where the real one is: signatures checked (oauthlib's agree),
/// nonces never reused, stale timestamps and HMAC-SHA1 refused from 2.4.4, integration tokens as bearers only when
/// allowed, unknown store codes refused, searchCriteria as Magento combines and pages it, prices per store view,
/// shipments of more than is left refused with Magento's templated errors.
@Suite(.serialized) struct AdobeCommerceSandboxTests {
  static func start(_ configure: (inout AdobeCommerceSimulator.Config) -> Void = { _ in }) async throws -> Sandbox {
    var options = Sandbox.Options()
    options.orders = 12
    configure(&options.adobe)
    return try await Sandbox.start(options, logger: Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() })
  }

  struct Answer {
    var status: Int
    var text: String
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
  }

  static func send(
    _ sandbox: Sandbox, _ path: String, method: String = "GET", body: String? = nil,
    algorithm: Digest.Algorithm = .sha256, timestamp: Int? = nil, authorization: String? = nil
  ) async throws -> (Answer, String) {
    let url = sandbox.adobeURL + path
    let c = sandbox.adobe.config
    let header =
      authorization
      ?? OAuth1.sign(
        method: method, url: url, consumerKey: c.consumerKey, consumerSecret: c.consumerSecret, token: c.accessToken,
        tokenSecret: c.accessTokenSecret, nonce: UUID().uuidString,
        timestamp: timestamp ?? Int(Date().timeIntervalSince1970),
        algorithm: algorithm)!.header
    var request = MLHostSystems.HTTPRequest(method: method, url: url)
    request.headers = [("Authorization", header), ("Content-Type", "application/json")]
    if let body { request.body = Array(body.utf8) }
    let r = try await HTTPClient.shared.send(request).get()
    return (Answer(status: r.status, text: String(decoding: r.body, as: UTF8.self)), header)
  }

  @Test func theStoresSignatureCheckAgreesWithOauthlib() throws {
    let v = try Vectors.adobe()
    let url = try #require(URLComponents(string: v["url"]!))
    for (name, method) in [("sha256_authorization", "HMAC-SHA256"), ("sha1_authorization", "HMAC-SHA1")] {
      let oauth = AdobeCommerceSimulator.oauthParameters(v[name]!)
      #expect(oauth["oauth_signature_method"] == method)
      let expected = AdobeCommerceSimulator.oauthSignature(
        method: "GET", authority: "127.0.0.1:8080", path: url.percentEncodedPath, query: url.percentEncodedQuery ?? "",
        oauth: oauth,
        consumerSecret: "cs+adobe/1", tokenSecret: "ts&adobe")
      #expect(expected == oauth["oauth_signature"], "\(name)")
      #expect(
        AdobeCommerceSimulator.oauthSignature(
          method: "GET", authority: "127.0.0.1:8080", path: url.percentEncodedPath,
          query: url.percentEncodedQuery ?? "", oauth: oauth,
          consumerSecret: "cs+adobe/2", tokenSecret: "ts&adobe") != oauth["oauth_signature"])
    }
  }

  @Test func oauthNonceTimestampAndSignatureMethodAreEnforced() async throws {
    let sandbox = try await Self.start()
    defer { sandbox.stop() }
    let (ok, header) = try await Self.send(sandbox, "/rest/default/V1/orders/1")
    #expect(ok.status == 200, "\(ok.text)")
    #expect(ok.text.contains(#""grand_total":85.97"#), "money is a JSON number written exactly: \(ok.text.prefix(300))")
    let replay = try await Self.send(sandbox, "/rest/default/V1/orders/1", authorization: header).0
    #expect(replay.status == 401)
    #expect(replay.object["message"] as? String == "The nonce is already being used by the consumer with ID %1.")
    #expect(replay.object["parameters"] as? [String] == ["1"])
    let stale = try await Self.send(
      sandbox, "/rest/default/V1/orders/1", timestamp: Int(Date().timeIntervalSince1970) - 3600
    ).0
    #expect(
      stale.status == 401 && stale.object["message"] as? String == "The timestamp is invalid. Verify and try again.")
    let sha1 = try await Self.send(sandbox, "/rest/default/V1/orders/1", algorithm: .sha1).0
    #expect(sha1.status == 400 && sha1.object["message"] as? String == "Signature method %1 is not supported")
    #expect(sha1.object["parameters"] as? [String] == ["HMAC-SHA1"])
    let tampered = header.replacingOccurrences(of: "oauth_nonce=\"", with: "oauth_nonce=\"x")
    let forged = try await Self.send(sandbox, "/rest/default/V1/orders/1", authorization: tampered).0
    #expect(
      forged.status == 401 && forged.object["message"] as? String == "The signature is invalid. Verify and try again.")
    let counters = sandbox.counters
    #expect(counters["adobe.nonce_replays"] == 1 && counters["adobe.stale_timestamps"] == 1)
    #expect(counters["adobe.signature_method_refused"] == 1 && counters["adobe.bad_signatures"] == 1)
  }

  @Test func sha1IsAcceptedByAStoreUpTo243() async throws {
    let sandbox = try await Self.start { $0.version = "2.4.3" }
    defer { sandbox.stop() }
    #expect(try await Self.send(sandbox, "/rest/V1/orders/1", algorithm: .sha1).0.status == 200)
  }

  @Test func bearerTokens() async throws {
    let sandbox = try await Self.start()
    defer { sandbox.stop() }
    let c = sandbox.adobe.config
    func get(_ token: String) async throws -> Int {
      try await Self.send(sandbox, "/rest/V1/orders/1", authorization: "Bearer \(token)").0.status
    }
    #expect(try await get(c.accessToken) == 401)  // integration tokens as bearers are off by default since 2.4.4
    var login = MLHostSystems.HTTPRequest(method: "POST", url: sandbox.adobeURL + "/rest/V1/integration/admin/token")
    login.headers = [("Content-Type", "application/json")]
    login.body = Array(#"{"username":"\#(c.adminUser)","password":"wrong"}"#.utf8)
    #expect(try await HTTPClient.shared.send(login).get().status == 401)
    login.body = Array(#"{"username":"\#(c.adminUser)","password":"\#(c.adminPassword)"}"#.utf8)
    let answer = try await HTTPClient.shared.send(login).get()
    let token = try #require(
      try JSONSerialization.jsonObject(with: Data(answer.body), options: [.fragmentsAllowed]) as? String)
    #expect(try await get(token) == 200)
    let allowing = try await Self.start { $0.integrationAsBearer = true }
    defer { allowing.stop() }
    #expect(
      try await Self.send(allowing, "/rest/V1/orders/1", authorization: "Bearer \(allowing.adobe.config.accessToken)").0
        .status == 200)
  }

  @Test func storeCodesAndStoreViewPrices() async throws {
    let sandbox = try await Self.start()
    defer { sandbox.stop() }
    func price(_ store: String) async throws -> String {
      let a = try await Self.send(sandbox, "/rest/\(store)V1/products/MUG-CAFE").0
      guard let range = a.text.range(of: #""price":[0-9.]+"#, options: .regularExpression) else { return a.text }
      return String(a.text[range].dropFirst(8))
    }
    #expect(try await price("") == "8.50")
    #expect(try await price("default/") == "8.50")
    #expect(try await price("all/") == "8.50")
    #expect(try await price("fr/") == "8.90")
    #expect(try await price("b2b_de/") == "7.90")
    #expect(try await Self.send(sandbox, "/index.php/rest/fr/V1/products/MUG-CAFE").0.status == 200)
    let unknown = try await Self.send(sandbox, "/rest/xx/V1/products/MUG-CAFE").0
    #expect(
      unknown.status == 404 && (unknown.object["message"] as? String)?.contains("store that was requested") == true)
    let missing = try await Self.send(sandbox, "/rest/V1/orders/9999").0
    #expect(missing.status == 404)
  }

  static func criteria(_ pairs: [(String, String)]) -> String {
    let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    func e(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved)! }
    return pairs.map { "\(e($0.0))=\(e($0.1))" }.joined(separator: "&")
  }

  @Test func searchCriteriaGroupsConditionsAndPaging() async throws {
    let sandbox = try await Self.start()
    defer { sandbox.stop() }
    let g = "searchCriteria[filter_groups]"
    // (store 2 OR store 3) AND grand_total > 60
    let q = Self.criteria([
      ("\(g)[0][filters][0][field]", "store_id"), ("\(g)[0][filters][0][value]", "2"),
      ("\(g)[0][filters][1][field]", "store_id"), ("\(g)[0][filters][1][value]", "3"),
      ("\(g)[1][filters][0][field]", "grand_total"), ("\(g)[1][filters][0][value]", "60"),
      ("\(g)[1][filters][0][condition_type]", "gt"),
      ("searchCriteria[sortOrders][0][field]", "grand_total"), ("searchCriteria[sortOrders][0][direction]", "DESC"),
    ])
    let found = try await Self.send(sandbox, "/rest/V1/orders?" + q).0
    let items = found.object["items"] as? [[String: Any]] ?? []
    let seeded = sandbox.adobeSeed.orders.filter { [2, 3].contains($0.storeID) }.map(\.incrementID)
    let totals = sandbox.adobe.orderTotals
    let expected = seeded.filter { totals[$0]! > ExactDecimal("60")! }.sorted { totals[$0]! > totals[$1]! }
    #expect(!expected.isEmpty)
    #expect(items.map { $0["increment_id"] as? String ?? "" } == expected)
    #expect(found.object["total_count"] as? Int == expected.count)
    let bad = try await Self.send(
      sandbox,
      "/rest/V1/orders?"
        + Self.criteria([("\(g)[0][filters][0][field]", "x"), ("\(g)[0][filters][0][condition_type]", "near")])
    ).0
    #expect(bad.status == 400 && bad.object["parameters"] as? [String] == ["near"])

    // Page 4 of 5-per-page over 12 orders: empty on 2.4, the last page again on 2.3.
    let past = Self.criteria([("searchCriteria[pageSize]", "5"), ("searchCriteria[currentPage]", "4")])
    #expect((try await Self.send(sandbox, "/rest/V1/orders?" + past).0.object["items"] as? [Any])?.count == 0)
    let old = try await Self.start { $0.version = "2.3.7" }
    defer { old.stop() }
    let again = try await Self.send(old, "/rest/V1/orders?" + past).0.object
    #expect((again["items"] as? [[String: Any]])?.map { $0["increment_id"] as? String } == ["100000011", "100000012"])
    #expect(again["total_count"] as? Int == 12)
  }

  @Test func shipmentsRefuseMoreThanIsLeft() async throws {
    let sandbox = try await Self.start()
    defer { sandbox.stop() }
    let order = try #require(sandbox.adobe.orderResource(incrementID: "100000002"))
    let rows = order["items"] as! [[String: Any]]
    let hoodie = try #require(rows.first { $0["product_type"] as? String == "configurable" })
    let child = try #require(rows.first { $0["parent_item_id"] as? Int == hoodie["item_id"] as? Int })
    let path = "/rest/V1/order/2/ship"
    // The child row ships through its parent: asked alone, nothing ships.
    let alone = try await Self.send(
      sandbox, path, method: "POST", body: #"{"items":[{"order_item_id":\#(child["item_id"]!),"qty":1}]}"#
    ).0
    #expect(
      alone.status == 400 && (alone.object["message"] as? String)?.contains("without products") == true, "\(alone.text)"
    )
    let tooMany = try await Self.send(
      sandbox, path, method: "POST", body: #"{"items":[{"order_item_id":\#(hoodie["item_id"]!),"qty":3}]}"#
    ).0
    #expect(
      tooMany.status == 400 && tooMany.object["message"] as? String == "We found an invalid quantity to %1 item \"%2\"."
    )
    let partial = try await Self.send(
      sandbox, path, method: "POST",
      body:
        #"{"items":[{"order_item_id":\#(hoodie["item_id"]!),"qty":2}],"tracks":[{"track_number":"T1","title":"UPS","carrier_code":"ups"}]}"#
    ).0
    #expect(partial.status == 200 && partial.json is Int, "\(partial.text)")
    #expect(sandbox.adobe.shipped(incrementID: "100000002")["HOODIE-S"] == 2)
    let shippedChild = (sandbox.adobe.orderResource(incrementID: "100000002")!["items"] as! [[String: Any]]).first {
      $0["item_id"] as? Int == child["item_id"] as? Int
    }
    #expect(shippedChild?["qty_shipped"] as? Int == 2, "the child row follows its parent")
    #expect(try await Self.send(sandbox, path, method: "POST", body: "{}").0.status == 200)  // the rest
    let done = try await Self.send(sandbox, path, method: "POST", body: "{}").0
    #expect(done.status == 400 && (done.object["message"] as? String)?.contains("does not allow a shipment") == true)
  }
}
