import Foundation
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Testing

@Suite struct VMTests {
  @Test func jobReturnsValuesAndSeesItsInput() async throws {
    let outcome = try await runJob("return input.n * 2, job.name", input: ["n": 21])
    guard case .succeeded(let v) = outcome else {
      Issue.record("\(outcome)")
      return
    }
    #expect(v == [.integer(42), .text("main")])
  }

  @Test func errorsNameTheScriptLineAndCarryATraceback() async throws {
    let outcome = try await runJob("local x = nil\nreturn x.field")
    let e = try #require(outcome.error)
    #expect(e.location?.file.hasSuffix("connector.lua") == true)
    #expect(e.location?.line == 5)  // two preamble lines, the declaration, then the body
    #expect(e.reason.contains("attempt to index a nil value"))
    #expect(e.traceback.contains("stack traceback"))
  }

  @Test func misuseOfANativeBlamesTheCaller() async throws {
    let e = try #require(try await runJob("mlhost.sleep('soon')").error)
    #expect(e.message.contains("connector.lua:4: bad argument #1 to 'sleep'"))
  }

  @Test func sleepSuspendsWithoutBlockingOtherJobs() async throws {
    let c = try TempConnector(
      script: connectorScript(
        "local t0 = mlhost.time.now() mlhost.sleep(0.3) return { t0, mlhost.time.now() }"))
    defer { c.remove() }
    let v = try await c.load()
    async let a = v.run(job: "main")
    async let b = v.run(job: "main")
    async let d = v.run(job: "main")
    var spans: [(Double, Double)] = []
    for outcome in await [a, b, d] {
      guard case .succeeded(let r) = outcome, case .array(let span) = r[0], case .number(let s) = span[0],
        case .number(let e) = span[1]
      else {
        Issue.record("\(outcome)")
        return
      }
      spans.append((s, e))
    }
    // All three were asleep at the same moment: the VM kept running while each was suspended.
    #expect(spans.map(\.0).max()! < spans.map(\.1).min()!)
    #expect(spans.allSatisfy { $0.1 - $0.0 >= 0.29 })
    await v.retire(grace: 0)
  }

  @Test func eachBoundsConcurrencyAndKeepsOrder() async throws {
    let result = try await evalLua(
      """
      local running, peak = 0, 0
      local items = {}
      for i = 1, 20 do items[i] = i end
      local out = mlhost.each(items, 4, function(item, i)
        running = running + 1
        if running > peak then peak = running end
        mlhost.sleep(0.01 * (i % 3))
        running = running - 1
        return item * 10
      end)
      return { peak = peak, out = out }
      """)
    #expect(result["peak"] == .integer(4))
    #expect(result["out"] == .array((1...20).map { .integer(Int64($0 * 10)) }))
  }

  @Test func eachReportsTheFirstError() async throws {
    let e = try #require(
      try await runJob(
        """
        return mlhost.each({1, 2, 3}, 2, function(item)
          mlhost.sleep(0.01)
          if item == 2 then error("bad item") end
          return item
        end)
        """
      ).error)
    #expect(e.message.contains("item 2:"))
    #expect(e.message.contains("bad item"))
  }

  @Test func tenThousandSuspendedCoroutinesCostNoThreads() async throws {
    let threadsBefore = threadCount()
    let result = try await evalLua(
      """
      local items = {}
      for i = 1, 10000 do items[i] = i end
      local out = mlhost.each(items, 10000, function(i) mlhost.sleep(0.3) return i end)
      return #out
      """)
    #expect(result == .integer(10000))
    // Other tests start VMs meanwhile; a thread per coroutine would add 10,000.
    #expect(threadCount() - threadsBefore < 100)
  }

  @Test func suspendingOutsideAJobIsRefused() async throws {
    let e = try #require(
      try await runJob(
        """
        local co = coroutine.wrap(function() mlhost.sleep(0) end)
        co()
        """
      ).error)
    #expect(e.message.contains("must run inside a job"))
    let c = try TempConnector(script: "mlhost.sleep(1)\nreturn mlhost.connector{name='x'}")
    defer { c.remove() }
    await #expect(throws: LuaError.self) { try await c.load() }
  }

  @Test func scriptCoroutinesStillWork() async throws {
    let v = try await evalLua(
      """
      local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
      return gen() + gen() + gen()
      """)
    #expect(v == .integer(6))
  }
}

func threadCount() -> Int {
  (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
}
