import Foundation
import MLHostModules
import MLHostRuntime
import MLHostTesting
import Testing

/// The real `mlhost` binary, as users run it.
@Suite(.serialized) struct CLITests {
  @Test func checkSucceedsOnTheExample() async throws {
    let r = try await MLHostProcess.run(["check", "examples/invoice_digest/invoice_digest.lua"])
    #expect(r.status == 0)
    #expect(r.stdout.contains("ok — connector invoice_digest"))
    #expect(r.stdout.contains("job digest (every 3s)"))
  }

  @Test func checkFailsWithPathLineMessage() async throws {
    let c = try TempConnector(
      script: "local c = mlhost.connector { name = 'x' }\nc:job('a', function()\n  return 1 +\nend)\nreturn c\n")
    defer { c.remove() }
    let r = try await MLHostProcess.run(["check", c.script.path])
    #expect(r.status == 1)
    #expect(r.stderr.contains("connector.lua:4: unexpected symbol near 'end'"), "\(r.stderr)")
  }

  @Test func runRefusesARetentionShorterThanSendersRetry() async throws {
    let r = try await MLHostProcess.run([
      "run", "examples/invoice_digest/invoice_digest.lua", "--keep-days", "0.1", "--webhook-port", "0", "--admin-port",
      "0",
    ])
    #expect(r.status != 0)
    #expect(r.stderr.contains("--keep-days must be at least 1"), "\(r.stderr)")
  }

  @Test func runDrainsOnSIGTERMAndExitsZero() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "drain" }
        c:every("1h", "work", function()
          mlhost.log.info("work started")
          mlhost.sleep(1)
          mlhost.log.info("work finished")
        end)
        return c
        """)
    defer { c.remove() }
    let p = try MLHostProcess.start([
      "run", c.script.path, "--grace", "10", "--state", c.directory.appendingPathComponent("state").path,
      "--webhook-port", "0", "--admin-port", "0",
    ])
    defer { p.kill() }
    #expect(await p.waitForOutput("work started", within: 10))
    p.signal(SIGTERM)
    let status = await p.wait(within: 10)
    #expect(status == 0)
    #expect(p.output.contains("work finished"))
    #expect(p.output.contains("stopped"))
  }

  @Test func sighupReloads() async throws {
    let c = try TempConnector(script: "return mlhost.connector { name = 'hup' }")
    defer { c.remove() }
    let p = try MLHostProcess.start([
      "run", c.script.path, "--no-watch", "--state", c.directory.appendingPathComponent("state").path,
      "--webhook-port", "0", "--admin-port", "0",
    ])
    defer { p.kill() }
    #expect(await p.waitForOutput("loaded connector hup", within: 10))
    try c.rewrite("local c = mlhost.connector { name = 'hup' }\nc:job('x', function() end)\nreturn c")
    p.signal(SIGHUP)
    #expect(await p.waitForOutput("reloaded connector hup", within: 10))
    p.signal(SIGTERM)
    #expect(await p.wait(within: 10) == 0)
  }

  @Test func versionAndHelp() async throws {
    #expect(try await MLHostProcess.run(["version"]).stdout.contains("mlhost \(MLHostVersion.current)"))
    for verb in ["run", "check", "version", "docs"] {
      let r = try await MLHostProcess.run([verb, "--help"])
      #expect(r.status == 0)
      #expect(r.stdout.contains("USAGE"))
    }
  }

  /// The committed reference docs and stubs are what `mlhost docs` generates now.
  @Test func generatedDocsAreCurrent() throws {
    let md = try String(contentsOf: Repository.root.appendingPathComponent("docs/LUA_API.md"), encoding: .utf8)
    let stubs = try String(
      contentsOf: Repository.root.appendingPathComponent("docs/lua/mlhost.meta.lua"), encoding: .utf8)
    #expect(md == APIReference.markdown(), "docs/LUA_API.md is stale: run `mlhost docs`")
    #expect(stubs == APIReference.luaStubs(), "docs/lua/mlhost.meta.lua is stale: run `mlhost docs`")
  }
}
