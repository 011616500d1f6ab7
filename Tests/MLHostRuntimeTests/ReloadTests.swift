import Foundation
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Testing

@Suite struct ReloadTests {
  static func script(_ tag: String) -> String {
    """
    local c = mlhost.connector { name = "live" }
    c:job("which", function() return "\(tag)" end)
    c:job("slow", function() mlhost.sleep(0.6) return "\(tag)" end)
    return c
    """
  }

  func which(_ host: ConnectorHost) async throws -> LuaValue? {
    guard case .succeeded(let v) = try await host.run(connector: "live", job: "which") else { return nil }
    return v.first
  }

  @Test func fileChangesSwapVersionsAndBadOnesKeepTheOld() async throws {
    let c = try TempConnector(script: Self.script("v1"))
    defer { c.remove() }
    let (logger, sink) = capturingLogger()
    let host = try await c.host(options: HostOptions(grace: 5, watch: true), logger: logger)
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    #expect(try await which(host) == "v1")

    try c.rewrite(Self.script("v2"))
    #expect(await eventually { await host.reloadCount == 1 })
    #expect(try await which(host) == "v2")
    #expect(sink.lines.contains { $0.contains("reloaded connector live") && $0.contains("version=") })

    try c.rewrite("local c = mlhost.connector { name = 'live' }\nc:job('which', function( end)\nreturn c")
    #expect(await eventually { sink.lines.contains { $0.contains("reload failed") } })
    let failure = try #require(sink.lines.first { $0.contains("reload failed") })
    #expect(failure.contains("connector.lua:2:"))
    #expect(try await which(host) == "v2")
    #expect(await host.reloadCount == 1)
    await host.shutdown()
  }

  @Test func inFlightJobFinishesOnTheOldVersion() async throws {
    let c = try TempConnector(script: Self.script("old"))
    defer { c.remove() }
    let host = try await c.host(options: HostOptions(grace: 5, watch: true))
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    async let slow = host.run(connector: "live", job: "slow")
    // Change the file only once the job runs on the old version.
    #expect(try await eventually { try await host.store.stats().jobsByState["running"] == 1 })
    try c.rewrite(Self.script("new"))
    #expect(await eventually { await host.reloadCount == 1 })
    #expect(try await which(host) == "new")
    guard case .succeeded(let v) = try await slow else {
      Issue.record("slow job failed")
      return
    }
    #expect(v == ["old"])
    await host.shutdown()
  }

  @Test func retiredVersionIsClosedAfterTheGracePeriod() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "live" }
        c:job("forever", function() mlhost.sleep(60) end)
        return c
        """)
    defer { c.remove() }
    let v = try await c.load()
    async let forever = v.run(job: "forever")
    try await Task.sleep(nanoseconds: 50_000_000)
    let start = Date()
    await v.retire(grace: 0.2)
    let outcome = await forever
    // Stopped by the retirement, not by the job's own budget (minutes): generous for a loaded machine.
    #expect(Date().timeIntervalSince(start) < 15)
    #expect(outcome.error?.message.contains("retired") == true)
  }

  @Test func settingsChangeReloadsToo() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "live", settings = { greeting = { type = "string", default = "hi" } } }
        c:job("which", function() return c.settings.greeting end)
        return c
        """, settings: "greeting = \"hello\"\n")
    defer { c.remove() }
    let host = try await c.host(options: HostOptions(grace: 1, watch: true))
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    #expect(try await which(host) == "hello")
    try "greeting = \"bonjour\"\n".write(to: c.settings!, atomically: true, encoding: .utf8)
    #expect(try await eventually { try await which(host) == "bonjour" })
    await host.shutdown()
  }

  @Test func schedulesFire() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "live" }
        c:every("1s", "tick", function() mlhost.log.info("tick ran") end)
        return c
        """)
    defer { c.remove() }
    let (logger, sink) = capturingLogger()
    let host = try await c.host(options: HostOptions(grace: 1, watch: false), logger: logger)
    let scheduler = Task { await host.runScheduler() }
    let dispatcher = Task { await host.runDispatcher() }
    #expect(await eventually(within: 10) { sink.lines.filter { $0.contains("tick ran") }.count >= 2 })
    scheduler.cancel()
    dispatcher.cancel()
    await host.shutdown()
  }
}
