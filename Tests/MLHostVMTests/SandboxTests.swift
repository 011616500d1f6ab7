import MLHostLua
import MLHostRuntime
import MLHostTesting
import MLHostVM
import Testing

@Suite struct SandboxTests {
  @Test(arguments: [
    "return os.execute('true')", "return io.open('/etc/passwd')", "return io.popen('id')",
    "return debug.getinfo(1)", "return package.loadlib('x', 'y')", "return string.dump(print)",
    "return loadfile('/etc/passwd')", "return dofile('/etc/passwd')", "return os.getenv('HOME')",
    "return os.exit(1)", "return os.remove('/tmp/x')", "return ('').dump(print)",
  ])
  func escapesAreRefused(_ code: String) async throws {
    let outcome = try await runJob(code)
    #expect(outcome.error != nil, "\(code) was allowed")
  }

  @Test func binaryChunksDoNotLoad() async throws {
    // "\27Lua" is the bytecode signature.
    let v = try await evalLua("local f, err = load('\\27Lua\\x54\\0') return err")
    #expect(v.stringValue?.contains("text") == true || v.stringValue?.contains("binary") == true)
    let e = try #require(try await runJob("return load('return 1', 'x', 'b')").error)
    #expect(e.message.contains("only text chunks"))
  }

  @Test func textLoadWorksWithAnEnvironment() async throws {
    #expect(try await evalLua("return load('return x', 'c', 't', { x = 5 })()") == .integer(5))
  }

  @Test func collectgarbageIsLimitedToHarmlessOptions() async throws {
    #expect(try await runJob("collectgarbage('stop')").error?.message.contains("not allowed") == true)
    #expect(try await evalLua("return type(collectgarbage('count'))") == "number")
  }

  @Test func namespaceIsReadOnly() async throws {
    #expect(try await runJob("mlhost.sleep = nil").error?.message.contains("read-only") == true)
    #expect(try await runJob("mlhost.json.decode = print").error?.message.contains("read-only") == true)
    #expect(try await evalLua("return require('mlhost.json') == mlhost.json") == true)
  }

  @Test func requireStaysInsideTheConnectorFolderAndStdlib() async throws {
    let c = try TempConnector(
      script: connectorScript("return util.twice(21)", preamble: "local util = require('helpers.util')"),
      modules: ["helpers/util.lua": "local _M = {} function _M.twice(x) return x * 2 end return _M"])
    defer { c.remove() }
    let v = try await c.load()
    let outcome = await v.run(job: "main")
    guard case .succeeded(let values) = outcome else {
      Issue.record("job failed: \(outcome)")
      return
    }
    #expect(values == [.integer(42)])
    #expect(v.files.contains { $0.lastPathComponent == "util.lua" })
    await v.retire(grace: 0)
    for name in ["../etc/passwd", "/etc/passwd", "..", "a..b"] {
      #expect(try await runJob("require('\(name)')").error != nil, "require('\(name)') was allowed")
    }
    #expect(try await runJob("require('nope')").error?.message.contains("not found") == true)
  }

  @Test func infiniteLoopIsStoppedAndTheHostLivesOn() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "loop" }
        c:job("spin", function() while true do end end)
        c:job("sneaky", function() while true do pcall(function() while true do end end) end end)
        c:job("ok", function() return "fine" end)
        return c
        """)
    defer { c.remove() }
    let v = try await c.load(limits: VMLimits(jobInstructions: 5_000_000))
    let spin = try #require(await v.run(job: "spin").error)
    #expect(spin.message.contains("instruction budget"))
    #expect(spin.location?.line == 2)
    let sneaky = try #require(await v.run(job: "sneaky").error)
    #expect(sneaky.message.contains("instruction budget"))
    guard case .succeeded(let values) = await v.run(job: "ok") else {
      Issue.record("VM did not survive")
      return
    }
    #expect(values == ["fine"])
    await v.retire(grace: 0)
  }

  @Test func memoryBombIsStoppedAndTheHostLivesOn() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "bomb" }
        c:job("bomb", function()
          local t = {}
          for i = 1, 1e9 do t[i] = string.rep("x", 1024) .. i end
        end)
        c:job("rep", function() return #string.rep("x", 200 * 1024 * 1024) end)
        c:job("ok", function() return "fine" end)
        return c
        """)
    defer { c.remove() }
    let v = try await c.load(limits: VMLimits(memoryBytes: 32 << 20))
    let bomb = try #require(await v.run(job: "bomb").error)
    #expect(bomb.message.contains("memory limit of 32 MiB exceeded"))
    #expect(bomb.message.contains("connector.lua:4"))
    #expect(await v.run(job: "rep").error != nil)
    guard case .succeeded(let values) = await v.run(job: "ok") else {
      Issue.record("VM did not survive")
      return
    }
    #expect(values == ["fine"])
    await v.retire(grace: 0)
  }

  @Test func loadTimeLoopIsStopped() async throws {
    let c = try TempConnector(script: "while true do end")
    defer { c.remove() }
    await #expect(throws: LuaError.self) { try await c.load(limits: VMLimits(loadInstructions: 1_000_000)) }
  }
}
