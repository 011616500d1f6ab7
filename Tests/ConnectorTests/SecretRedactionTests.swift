import Foundation
import MLHostCore
import MLHostRuntime
import MLHostTesting
import Testing

/// Issue #16 item 10: a short secret is redacted where it stands as a token of its own, not inside other words,
/// and `creds set` warns about secrets too short to be safe.
@Suite struct SecretRedactionTests {
  @Test func secretsAreRedactedAsWholeTokensOnly() {
    let redactor = SecretRedactor()
    redactor.register(["admin", "Zq9-long-secret"])
    let text = "the administrator plays badminton; password=admin; url=https://u:admin@h; \"admin\"; Zq9-long-secret."
    #expect(
      redactor.redact(text)
        == "the administrator plays badminton; password=[redacted]; url=https://u:[redacted]@h; \"[redacted]\"; [redacted]."
    )
  }

  @Test func credsSetWarnsAboutShortSecrets() async throws {
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-creds-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: state) }
    let short = try await MLHostProcess.run(
      [
        "creds", "set", "erp", "--type", "basic", "--field", "user=MLHOST", "--field", "password=admin", "--state",
        state.path,
      ])
    #expect(short.status == 0, "\(short.stderr)")
    #expect(short.stderr.contains("warning: erp: password is shorter than 12 characters"), "\(short.stderr)")
    let long = try await MLHostProcess.run(
      [
        "creds", "set", "erp", "--type", "basic", "--field", "user=MLHOST", "--field", "password=correct-horse-battery",
        "--state", state.path,
      ])
    #expect(long.status == 0 && !long.stderr.contains("warning"), "\(long.stderr)")
  }
}
