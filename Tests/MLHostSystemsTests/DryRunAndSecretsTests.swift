import Foundation
import MLHostCore
import MLHostRuntime
import MLHostStore
import MLHostTesting
import Testing

/// `mlhost run --dry-run`, and canary secrets hunted through every output of a real run.
@Suite(.serialized) struct DryRunAndSecretsTests {
  /// Tries hard to leak: it logs, stores, posts and fails with what the server echoes of its credential.
  static let script = """
    local c = mlhost.connector { name = "canary", settings = { url = { type = "string", required = true } } }
    local erp = mlhost.http.system { name = "erp", base_url = c.settings.url, credential = "erp" }
    c:handler("order", function(rec, o)
      local echoed = mlhost.http.request { system = erp, path = "/echo-auth" }.body
      mlhost.log.info("echoed " .. echoed)
      local w = mlhost.http.request { system = erp, method = "POST", path = "/write",
        json = { order = o.id, password = "hunter2-plain", note = echoed } }
      if o.id == 2 then error("upstream said " .. echoed) end
      if o.id == 3 then rec:reject("rejected with " .. echoed) end
      return rec:created("erp", w.dry_run and "DRY" or tostring(w.json.id))
    end)
    c:every("1h", "sync", function(job)
      for id = 1, 3 do job:record("order", id, { id = id }) end
      job:advance_cursor("orders", "3")
    end)
    return c
    """

  struct Setup {
    let connector: TempConnector
    let state: URL
    let canary: String
    let encoded: String
    var leaks: [String] { [canary, encoded] }
  }

  static func setUp(_ url: String) async throws -> Setup {
    let c = try TempConnector(script: script, settings: "url = \"\(url)\"\n")
    let state = c.directory.appendingPathComponent("state")
    let canary = "canary-\(UUID().uuidString)"
    let set = try await MLHostProcess.run([
      "creds", "set", "erp", "--type", "basic", "--field", "user=svc", "--field", "password=\(canary)", "--origin", url,
      "--state", state.path,
    ])
    #expect(set.status == 0, "\(set.stderr)")
    return Setup(connector: c, state: state, canary: canary, encoded: ByteCodecs.base64(Array("svc:\(canary)".utf8)))
  }

  @Test func dryRunSendsNoWriteAndChangesNoState() async throws {
    let (s, server) = try await SystemTests.start()
    defer { server.stop() }
    let setup = try await Self.setUp(server.url)
    defer { setup.connector.remove() }
    let run = try await MLHostProcess.run([
      "run", setup.connector.script.path, "--dry-run", "--state", setup.state.path, "--webhook-port", "0",
      "--admin-port", "0",
    ])
    #expect(run.status == 0, "\(run.stderr)")
    let out = run.stdout
    #expect(out.contains("dry run: one cycle"))
    #expect(out.contains("canary.sync: ok"))
    #expect(out.contains("order: 1 created, 1 rejected, 1 failed"), "\(out)")
    #expect(out.contains("dry run: 3 request(s) would have been sent"))
    #expect(out.contains("POST \(server.url)/write"))
    #expect(out.contains(#""password":"[redacted]""#))
    #expect(out.contains(#""note":"Basic [redacted]""#))
    // Reads went out (the handler needs them); writes did not.
    #expect(s.hits("echo-auth") == 3)
    #expect(s.hits("write") == 0)
    // The real state is as it was: a real run will still do everything.
    let store = try SQLiteStore(directory: setup.state)
    #expect(try await store.cursor(connector: "canary", name: "orders") == nil)
    #expect(try await store.stats().recordsByOutcome.isEmpty)
    for leak in setup.leaks { #expect(!(out + run.stderr).contains(leak)) }
  }

  @Test func canarySecretsAppearInNoOutput() async throws {
    let (s, server) = try await SystemTests.start()
    defer { server.stop() }
    let setup = try await Self.setUp(server.url)
    defer { setup.connector.remove() }
    let host = try await HostProcess(scripts: [setup.connector.script], state: setup.state)
    defer { host.process.kill() }
    let store = try host.store()
    #expect(
      try await eventually { try await store.stats().recordsByOutcome == ["created": 1, "failed": 1, "rejected": 1] })
    #expect(s.hits("echo-auth") >= 3)  // the server did see the credential
    let audit = try await MLHostProcess.run(["audit", "--state", setup.state.path])
    let status = try await MLHostProcess.run(["status", "--state", setup.state.path])
    #expect(await host.stop() == 0)
    var outputs = ["host log": host.process.output, "audit": audit.stdout + audit.stderr, "status": status.stdout]
    for file in ["mlhost.sqlite", "mlhost.sqlite-wal", "credentials.json"] {
      let url = setup.state.appendingPathComponent(file)
      if let data = try? Data(contentsOf: url) { outputs[file] = String(decoding: data, as: UTF8.self) }
    }
    #expect(outputs["host log"]?.contains("echoed Basic [redacted]") == true)
    #expect(outputs["audit"]?.contains("upstream said Basic [redacted]") == true, "\(outputs["audit"] ?? "")")
    for (name, text) in outputs {
      for leak in setup.leaks { #expect(!text.contains(leak), "a secret leaked into \(name)") }
    }
  }
}
