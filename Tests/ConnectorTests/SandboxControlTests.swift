import Foundation
import Logging
import MLHostRuntime
import MLHostSandbox
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// The sandbox's control routes and its live generator, in this process.
struct SandboxControlTests {
  static let quiet = Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() }

  static func post(_ url: String, token: String?, _ body: [String: Any]) async throws -> (Int, [String: Any]) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = "POST"
    request.httpBody = try JSONSerialization.data(withJSONObject: body)
    if let token { request.setValue(token, forHTTPHeaderField: "X-MLHost-Sandbox-Token") }
    let (data, response) = try await URLSession.shared.data(for: request)
    return (
      (response as? HTTPURLResponse)?.statusCode ?? 0,
      (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    )
  }

  @Test func controlRoutesAnswerOnlyWithTheToken() async throws {
    let sandbox = try await Sandbox.start(logger: Self.quiet)
    defer { sandbox.stop() }
    let customer = ["EMAIL": "nadia.ozdemir@example.net"]
    for wrong in [nil, "x" + sandbox.controlToken.dropFirst()] {
      let (code, _) = try await Self.post(sandbox.x3URL + "/sandbox/x3/customers", token: wrong, customer)
      #expect(code == 401)
    }
    #expect(sandbox.x3.customer(email: "nadia.ozdemir@example.net") == nil)
    let (code, answer) = try await Self.post(
      sandbox.x3URL + "/sandbox/x3/customers", token: sandbox.controlToken, customer)
    #expect(code == 200)
    #expect(answer["BPCNUM"] as? String == "C0013")
    #expect(sandbox.x3.customer(email: "NADIA.OZDEMIR@example.net") == "C0013")
    let (unknown, refusal) = try await Self.post(
      sandbox.shopifyURL + "/sandbox/shopify/orders", token: sandbox.controlToken,
      ["email": "a@example.com", "sku": "NOPE"])
    #expect(unknown == 404)
    #expect((refusal["error"] as? String ?? "").contains("the store sells no SKU NOPE"))
    let (placed, order) = try await Self.post(
      sandbox.shopifyURL + "/sandbox/shopify/orders", token: sandbox.controlToken,
      ["email": "zoe.faure@example.com", "sku": "MUG-CAFE", "quantity": 2])
    #expect(placed == 200)
    #expect(order["name"] as? String == "#1025")
    #expect(sandbox.shopify.counts["orders"] == 25)
  }

  @Test func theLiveGeneratorRepeatsItselfGivenTheSeedAndDiffersWithAnother() async throws {
    func steps(_ seed: UInt64) async throws -> [String] {
      let sandbox = try await Sandbox.start(logger: Self.quiet)
      defer { sandbox.stop() }
      let live = SandboxLive(sandbox, seed: seed)
      return (0..<30).flatMap { _ in live.step() }
    }
    let first = try await steps(3)
    #expect(first == (try await steps(3)))
    #expect(first != (try await steps(4)))
    #expect(first.filter { $0.hasPrefix("new order") }.count == 30)
    // Mostly valid orders, and the awkward ones a person watching should see handled.
    #expect(first.contains { $0.contains("not in X3") } || first.contains { $0.contains("which X3 does not know") })
    #expect(first.contains { $0.contains(" fulfilled") })
    #expect(first.contains { $0.hasPrefix("X3 stock of") })
  }
}
