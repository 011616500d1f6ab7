import Foundation
import MLHostTesting
import Testing

/// `mlhost test` of the x3_adobe connector: its cases (connectors/x3_adobe/tests/), run by the real binary
/// against the sandbox's Adobe Commerce store and X3 folder.
@Suite(.serialized) struct X3AdobeCaseTests {
  static let script = Repository.root.appendingPathComponent("connectors/x3_adobe.lua")
  static let cases = (try? FileManager.default.contentsOfDirectory(atPath: Repository.root.appendingPathComponent(
    "connectors/x3_adobe/tests").path).filter { $0.hasSuffix(".toml") }) ?? []

  @Test func everyShippedCasePasses() async throws {
    #expect(Self.cases.count >= 10, "\(Self.cases)")
    let run = try await MLHostProcess.run(["test", Self.script.path], timeout: 600)
    #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
    for file in Self.cases {
      let name = String(file.dropLast(5))
      #expect(run.stdout.contains("PASS \(name) ("), "\(name):\n\(run.stdout)")
    }
    #expect(run.stdout.contains("\(Self.cases.count) passed, 0 failed"), "\(run.stdout)")
  }
}
