import Foundation
import MLHostTesting
import Testing

/// `run --sandbox` as a person watches it: the live generator's orders arrive and are invoiced, and `mlhost
/// sandbox` fixes in the simulated systems what a rejection asks for.
@Suite(.serialized) struct LiveSandboxTests {
  static func sandboxRun(live: Double) throws -> (MLHostProcess, URL) {
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-live-\(UUID().uuidString)")
    let host = try MLHostProcess.start([
      "run", "connectors/x3_shopify.lua", "--sandbox", "--state", state.path, "--no-watch", "--webhook-port", "0",
      "--admin-port", "0", "--sandbox-live-interval", "\(live)",
    ])
    return (host, state)
  }

  /// The audit trail as JSON objects.
  static func audit(_ state: URL, failed: Bool = false) async throws -> [[String: Any]] {
    let run = try await MLHostProcess.run(
      ["audit", "--state", state.path, "--json", "--limit", "1000"] + (failed ? ["--failed"] : []))
    return run.stdout.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
  }

  @Test func aLiveSandboxOrderArrivesByWebhookAndIsInvoiced() async throws {
    let (host, state) = try Self.sandboxRun(live: 0.3)
    defer {
      host.kill()
      try? FileManager.default.removeItem(at: state)
    }
    #expect(await host.waitForOutput("first cycle finished", within: 90), "\(host.output)")
    #expect(await host.waitForOutput("sandbox: new order #1025", within: 20), "\(host.output)")
    // The seed has 24 orders (#1001…#1024): a later one came from the generator, by webhook (the order poll runs
    // once a minute), and became an X3 invoice.
    var invoiced: [String] = []
    let deadline = Date().addingTimeInterval(30)
    while invoiced.isEmpty && Date() < deadline {
      invoiced = try await Self.audit(state).compactMap { r in
        guard r["kind"] as? String == "shopify.order", r["outcome"] as? String == "created",
          let name = (r["input"] as? [String: Any])?["name"] as? String, let n = Int(name.dropFirst()), n > 1024
        else { return nil }
        return name
      }
      if invoiced.isEmpty { try await Task.sleep(for: .milliseconds(300)) }
    }
    #expect(!invoiced.isEmpty, "no live order was invoiced:\n\(host.output)")
    #expect(
      host.output.contains("sandbox add-customer nadia.ozdemir@example.net --state \(state.path)"),
      "the summary names the fix")
    host.signal(SIGTERM)
    #expect(await host.wait(within: 30) == 0)
    #expect(
      !FileManager.default.fileExists(atPath: state.appendingPathComponent("sandbox.json").path),
      "the control file outlived the run")
  }

  @Test func addingTheMissingCustomerWithTheSandboxVerbLetsItsReplayCreateTheInvoice() async throws {
    let (host, state) = try Self.sandboxRun(live: 0)
    defer {
      host.kill()
      try? FileManager.default.removeItem(at: state)
    }
    #expect(await host.waitForOutput("first cycle finished", within: 90), "\(host.output)")
    let control = state.appendingPathComponent("sandbox.json")
    let attributes = try FileManager.default.attributesOfItem(atPath: control.path)
    #expect((attributes[.posixPermissions] as? Int) == 0o600)
    let info = try JSONSerialization.jsonObject(with: Data(contentsOf: control)) as? [String: Any]
    let token = try #require(info?["token"] as? String)
    let waiting = try #require(
      try await Self.audit(state, failed: true).first {
        ($0["error"] as? String ?? "").contains("no X3 customer with email nadia.ozdemir@example.net")
      })
    let id = try #require(waiting["id"] as? Int)

    let add = try await MLHostProcess.run([
      "sandbox", "add-customer", "nadia.ozdemir@example.net", "--state", state.path,
    ])
    #expect(add.status == 0, "\(add.stderr)")
    #expect(
      add.stdout.contains("X3 customer C0013 (Nadia Ozdemir) added with email nadia.ozdemir@example.net"),
      "\(add.stdout)")
    let again = try await MLHostProcess.run([
      "sandbox", "add-customer", "nadia.ozdemir@example.net", "--state", state.path,
    ])
    #expect(again.status != 0)
    #expect(again.stderr.contains("X3 already has customer C0013"), "\(again.stderr)")

    let replay = try await MLHostProcess.run(["replay", "\(id)", "--state", state.path])
    #expect(replay.status == 0, "\(replay.stderr)")
    #expect(replay.stdout.lowercased().contains("created"), "\(replay.stdout)")

    let status = try await MLHostProcess.run(["sandbox", "status", "--state", state.path])
    #expect(status.stdout.contains("customers 13"), "\(status.stdout)")
    #expect(status.stdout.contains("orders 24"), "\(status.stdout)")
    #expect(
      !host.output.contains(token) && !add.stdout.contains(token) && !status.stdout.contains(token),
      "the control token was printed")
    host.signal(SIGTERM)
    #expect(await host.wait(within: 30) == 0)
  }

  @Test func theVerbSaysHowToStartASandboxWhenNoneRuns() async throws {
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-no-sandbox-\(UUID().uuidString)")
    let run = try await MLHostProcess.run([
      "sandbox", "place-order", "--email", "a@example.com", "--sku", "MUG-CAFE", "--state", state.path,
    ])
    #expect(run.status != 0)
    #expect(run.stderr.contains("no sandbox runs on \(state.path): start `"), "\(run.stderr)")
    #expect(run.stderr.contains("run connectors/x3_shopify.lua --sandbox --state \(state.path)`"), "\(run.stderr)")
  }
}
