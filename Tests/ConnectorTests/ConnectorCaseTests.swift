import Foundation
import MLHostCases
import MLHostCore
import MLHostTesting
import Testing

/// `mlhost test`: the x3_shopify connector's own test cases (data in connectors/x3_shopify/tests/), run by the real
/// binary against the sandbox systems.
@Suite(.serialized) struct ConnectorCaseTests {
  /// Every pairing's shipped cases, each run by `mlhost test` and each reported as passed.
  @Test(arguments: ["x3_shopify", "x3_woocommerce", "x3_adobe", "sage300_adobe"])
  func everyShippedCasePasses(connector: String) async throws {
    let folder = Repository.root.appendingPathComponent("connectors/\(connector)/tests")
    let cases = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".toml") }
    #expect(cases.count >= 10, "\(cases)")
    let script = Repository.root.appendingPathComponent("connectors/\(connector).lua")
    let run = try await MLHostProcess.run(["test", script.path], timeout: 600)
    #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
    for file in cases {
      let name = String(file.dropLast(5))
      #expect(run.stdout.contains("PASS \(name) ("), "\(name):\n\(run.stdout)")
    }
    #expect(run.stdout.contains("\(cases.count) passed, 0 failed"), "\(run.stdout)")
  }

  /// A copy of the package whose item mapping sends TSHIRT-M to an item X3 does not have: the case that orders
  /// T-shirts fails, printing what it expected and what happened; exit status 1.
  @Test func aBrokenMappingFailsTheCaseWithItsDiff() async throws {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-broken-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: copy) }
    try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
    let connectors = Repository.root.appendingPathComponent("connectors")
    for name in ["x3_shopify.lua", "x3_shopify"] {
      try FileManager.default.copyItem(
        at: connectors.appendingPathComponent(name), to: copy.appendingPathComponent(name))
    }
    try "sku,item\nTSHIRT-M,TS-WRONG\n".write(
      to: copy.appendingPathComponent("x3_shopify/x3_shopify_items.csv"), atomically: true, encoding: .utf8)
    let script = copy.appendingPathComponent("x3_shopify.lua").path
    let stdlib = Repository.root.appendingPathComponent("stdlib").path
    let run = try await MLHostProcess.run(
      ["test", script, "--stdlib", stdlib, "--case", "webhook_poll_race"], timeout: 120)
    #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
    #expect(run.stdout.contains("FAIL webhook_poll_race"), "\(run.stdout)")
    #expect(
      run.stdout.contains(
        "record shopify.order #1001 history:\n      - expected: created, unchanged\n      + actual:   rejected, rejected"
      ),
      "\(run.stdout)")
    #expect(run.stdout.contains("item TS-WRONG does not exist in X3"), "\(run.stdout)")
    #expect(run.stdout.hasSuffix("0 passed, 1 failed\n"), "\(run.stdout)")
    // A case that orders no T-shirts still passes with the broken table.
    let other = try await MLHostProcess.run(
      ["test", script, "--stdlib", stdlib, "--case", "missing_customer_then_replay"], timeout: 120)
    #expect(
      other.status == 0 && other.stdout.contains("PASS missing_customer_then_replay"),
      "\(other.stdout)\n\(other.stderr)")

    // The same for CI, one case.
    let json = try await MLHostProcess.run(
      ["test", script, "--stdlib", stdlib, "--case", "webhook_poll_race", "--json"], timeout: 120)
    #expect(json.status == 1, "\(json.stderr)")
    let doc = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json.stdout)")
    #expect(doc["passed"] as? Int == 0 && doc["failed"] as? Int == 1)
    let only = try #require((doc["cases"] as? [[String: Any]])?.first)
    let differences = only["differences"] as? [[String: Any]] ?? []
    #expect(only["name"] as? String == "webhook_poll_race" && only["passed"] as? Bool == false)
    #expect(
      differences.contains {
        $0["subject"] as? String == "x3 SINVOICE where CUSORDREF=#1001 count"
          && $0["expected"] as? String == "1" && $0["actual"] as? String == "0"
      }, "\(differences)")
  }

  /// The sage300_adobe connector's cases (connectors/sage300_adobe/tests/), by the real binary.

  /// A copy of the sage300_adobe package whose revenue accounts all point at the inactive 4900: a case that expects
  /// invoices fails with the rejection in its diff.
  @Test func aSage300AdobeCaseFailsWhenTheRevenueAccountIsWrong() async throws {
    let copy = FileManager.default.temporaryDirectory.appendingPathComponent(
      "mlhost-broken-sage300-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: copy) }
    try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
    let connectors = Repository.root.appendingPathComponent("connectors")
    for name in ["sage300_adobe.lua", "sage300_adobe"] {
      try FileManager.default.copyItem(
        at: connectors.appendingPathComponent(name), to: copy.appendingPathComponent(name))
    }
    try "sku,account\n*,4900\n".write(
      to: copy.appendingPathComponent("sage300_adobe/revenue_accounts.csv"),
      atomically: true, encoding: .utf8)
    let stdlib = Repository.root.appendingPathComponent("stdlib").path
    let run = try await MLHostProcess.run(
      [
        "test", copy.appendingPathComponent("sage300_adobe.lua").path, "--stdlib", stdlib,
        "--case", "existing_customer",
      ], timeout: 120)
    #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
    #expect(run.stdout.contains("FAIL existing_customer"), "\(run.stdout)")
    #expect(run.stdout.contains("GL account 4900 is Inactive in Sage 300 company SAMLTD"), "\(run.stdout)")
  }

  /// A case file with a misspelt key is refused with the key, not run as if it expected nothing.
  @Test func aMisspeltKeyIsAnErrorNamingIt() throws {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("misspelt-\(UUID().uuidString).toml")
    defer { try? FileManager.default.removeItem(at: file) }
    try "[[expect.records]]\norder = \"#1001\"\noutcom = \"created\"\n".write(
      to: file, atomically: true, encoding: .utf8)
    #expect(throws: HostError.self) { try ConnectorCase.load(file) }
    do {
      _ = try ConnectorCase.load(file)
    } catch {
      #expect("\(error)".contains("expect.records[1].outcom: unknown key"), "\(error)")
    }
  }
}
