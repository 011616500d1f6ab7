import Foundation
import MLHostLua
import MLHostRuntime
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// The durable job path against a real SQLite store, with a clock the tests move.
/// Host options on a manual clock, polling fast, with retries whose jitter takes the full ceiling (predictable).
func options(_ clock: ManualClock, maxAttempts: Int = 3) -> HostOptions {
  var o = HostOptions(grace: 2, watch: false, concurrency: 8)
  o.now = { clock.now }
  o.pollInterval = 0.01
  o.retry = RetryPolicy(base: 2, cap: 600, maxAttempts: maxAttempts)
  o.retry.jitter = { $0 }
  return o
}

@Suite struct QueueTests {
  @Test func failingJobBacksOffThenDeadLetters() async throws {
    let c = try TempConnector(script: connectorScript("error({ message = 'ERP unavailable', retryable = true })"))
    defer { c.remove() }
    let clock = ManualClock()
    let host = try await c.host(options: options(clock))
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    let t0 = clock.now
    let id = try await host.enqueue(connector: "t", job: "main")
    #expect(
      try await eventually {
        let job = try await host.store.job(id: id)
        return job?.attempts == 1 && job?.state == .queued
      })
    // Not due before its backoff (2 s after attempt 1).
    try await Task.sleep(nanoseconds: 100_000_000)
    #expect(try await host.store.job(id: id)?.attempts == 1)
    clock.advance(2)
    #expect(
      try await eventually {
        let job = try await host.store.job(id: id)
        return job?.attempts == 2 && job?.state == .queued
      })
    clock.advance(4)
    #expect(try await eventually { try await host.store.job(id: id)?.state == .dead })
    let job = try #require(try await host.store.job(id: id))
    #expect(job.attempts == 3)
    #expect(job.lastError?.contains("connector.lua:4: ERP unavailable") == true)
    #expect(clock.now - t0 == 6)
    await host.shutdown()
  }

  @Test func retryAfterIsHonouredAndPermanentErrorsDieAtOnce() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "t" }
        c:job("throttled", function() error({ message = "429", retryable = true, retry_after = 120 }) end)
        c:job("permanent", function() error({ message = "400 bad GL account", retryable = false }) end)
        return c
        """)
    defer { c.remove() }
    let clock = ManualClock()
    var o = options(clock)
    o.retry.jitter = { _ in 0 }
    let host = try await c.host(options: o)
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    let throttled = try await host.enqueue(connector: "t", job: "throttled")
    let permanent = try await host.enqueue(connector: "t", job: "permanent")
    #expect(try await eventually { try await host.store.job(id: permanent)?.state == .dead })
    #expect(try await host.store.job(id: permanent)?.attempts == 1)
    #expect(
      try await eventually {
        let job = try await host.store.job(id: throttled)
        return job?.attempts == 1 && job?.state == .queued
      })
    clock.advance(119)
    try await Task.sleep(nanoseconds: 100_000_000)
    #expect(try await host.store.job(id: throttled)?.attempts == 1)
    clock.advance(1)
    #expect(try await eventually { try await host.store.job(id: throttled)?.attempts == 2 })
    await host.shutdown()
  }

  @Test func aCrashedHostsJobRunsAgainWhenItsLeaseExpires() async throws {
    let c = try TempConnector(script: connectorScript("mlhost.store.set('ran', (mlhost.store.get('ran') or 0) + 1)"))
    defer { c.remove() }
    let clock = ManualClock()
    let host = try await c.host(options: options(clock))
    let id = try await host.enqueue(connector: "t", job: "main")
    // Another host claims it and dies without a word.
    let ghost = try await host.store.claim(owner: "ghost", now: clock.now, leaseSeconds: 30, freeSlots: ["t": 1])
    #expect(ghost.map(\.id) == [id])
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    try await Task.sleep(nanoseconds: 100_000_000)
    #expect(try await host.store.job(id: id)?.state == .running)
    clock.advance(31)
    #expect(try await eventually { try await host.store.job(id: id)?.state == .succeeded })
    // The ghost's late report is ignored: the lease is no longer its own.
    #expect(
      try await host.store.finish(
        jobID: id, owner: "ghost", now: clock.now, succeeded: false, error: "x", errorKind: nil, retryAt: nil) == false)
    #expect(try await host.store.job(id: id)?.state == .succeeded)
    await host.shutdown()
  }

  @Test func jobsOfOneKeyRunInOrder() async throws {
    let c = try TempConnector(
      script: connectorScript(
        """
        mlhost.sleep((4 - input) * 0.05)
        local seen = mlhost.store.get('seen') or {}
        seen[#seen + 1] = input
        mlhost.store.set('seen', seen)
        """, preamble: ""))
    defer { c.remove() }
    let clock = ManualClock()
    let host = try await c.host(options: options(clock))
    for i in 1...3 { _ = try await host.enqueue(connector: "t", job: "main", input: "\(i)", key: "order-42") }
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    #expect(try await eventually { try await host.store.value(connector: "t", key: "seen") == "[1,2,3]" })
    await host.shutdown()
  }

  @Test func missedSchedulesRunOnceAfterDowntime() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "t" }
        c:every("1m", "poll", function() end)
        c:cron("0 * * * *", "hourly", function() end)
        return c
        """)
    defer { c.remove() }
    let clock = ManualClock(3600 * 1000)  // on the hour
    let first = try await c.host(options: options(clock))
    let firstScheduler = Task { await first.runScheduler() }
    #expect(try await eventually { try await first.store.stats().jobsByState["queued"] == 1 })  // poll at once
    firstScheduler.cancel()
    await first.shutdown()
    clock.advance(10 * 3600 + 30)  // ten hours down
    let host = try await c.host(options: options(clock))
    let scheduler = Task { await host.runScheduler() }
    // The poll still waiting from before the downtime absorbs its missed firing (one pending firing per schedule);
    // the hourly job fires once, not once per missed hour.
    #expect(try await eventually { try await host.store.stats().jobsByState["queued"] == 2 })
    try await Task.sleep(nanoseconds: 200_000_000)
    #expect(try await host.store.stats().jobsByState["queued"] == 2)
    #expect(try await host.store.schedule(connector: "t", job: "hourly")?.next == 3600 * 1011)
    scheduler.cancel()
    await host.shutdown()
  }
}

@Suite struct RetentionTests {
  @Test func succeededJobsAndOldDeliveryIDsGoTheAuditTrailAndDeadLettersStay() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "t" }
        c:handler("item", function(rec, item) return rec:created("erp", "E" .. item.id) end)
        c:job("main", function(job, input)
          if input.fail then error("broken") end
          job:record("item", input.id, input)
        end)
        return c
        """)
    defer { c.remove() }
    let clock = ManualClock()
    let host = try await c.host(options: options(clock))
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }
    func deliver(_ id: String, _ input: String) async throws -> DeliveryResult {
      try await host.store.enqueue(
        delivery: NewDelivery(
          source: "shopify", deliveryID: id,
          job: NewJob(connector: "t", job: "main", input: input, trigger: .webhook, maxAttempts: 1, runAt: clock.now),
          receivedAt: clock.now))
    }
    guard case .queued(let old) = try await deliver("old", #"{"id":"1"}"#),
      case .queued(let dead) = try await deliver("dead", #"{"id":"2","fail":true}"#)
    else {
      Issue.record("not queued")
      return
    }
    #expect(try await eventually { try await host.store.job(id: old)?.state == .succeeded })
    #expect(try await eventually { try await host.store.job(id: dead)?.state == .dead })
    clock.advance(8 * 86_400)
    guard case .queued(let recent) = try await deliver("recent", #"{"id":"3"}"#) else {
      Issue.record("not queued")
      return
    }
    #expect(try await eventually { try await host.store.job(id: recent)?.state == .succeeded })
    let audit = try await host.store.stats().recordsByOutcome
    #expect(audit == ["created": 2])

    let scheduler = Task { await host.runScheduler() }  // prunes as it starts, then hourly
    defer { scheduler.cancel() }
    #expect(try await eventually { try await host.store.job(id: old) == nil })
    #expect(try await host.store.job(id: dead)?.state == .dead)
    #expect(try await host.store.job(id: recent)?.state == .succeeded)
    #expect(try await host.store.stats().recordsByOutcome == audit)
    // Past retention a delivery id is new again; within it, still a duplicate.
    guard case .queued = try await deliver("old", #"{"id":"1"}"#) else {
      Issue.record("an expired id was kept")
      return
    }
    #expect(try await deliver("recent", #"{"id":"3"}"#) == .duplicate)
    await host.shutdown()
  }
}

@Suite struct RecordTests {
  static let script = """
    local c = mlhost.connector { name = "sync" }
    c:handler("shop.order", function(rec, order)
      local existing = rec:target_id("erp")
      if existing then return rec:unchanged("erp", existing) end
      local customer = mlhost.store.get("customer:" .. order.email)
      if not customer then rec:reject("no ERP customer with email " .. order.email) end
      local n = (mlhost.store.get("next") or 100) + 1
      mlhost.store.set("next", n)
      return rec:created("erp", "INV" .. n, { gl = { account = "7010", amount = order.total } })
    end)
    c:handler("flaky", function(rec)
      local tries = (mlhost.store.get("tries") or 0) + 1
      mlhost.store.set("tries", tries)
      if tries < 2 then error({ message = "timeout talking to ERP", retryable = true }) end
      return rec:created("erp", "F1")
    end)
    c:job("sync", function(job, orders)
      for _, o in ipairs(orders) do
        job:record("shop.order", o.id, o)
        job:advance_cursor("orders", o.id)
      end
    end)
    c:job("flaky", function(job) job:record("flaky", "1", { n = 1 }) end)
    c:job("add_customer", function(_, email) mlhost.store.set("customer:" .. email, true) end)
    return c
    """

  /// The record connector on a manual clock, with its dispatcher running.
  func running() async throws -> (TempConnector, ManualClock, ConnectorHost, Task<Void, Never>) {
    let c = try TempConnector(script: Self.script)
    let clock = ManualClock()
    let host = try await c.host(options: options(clock))
    return (c, clock, host, Task { await host.runDispatcher() })
  }

  @Test func rejectedRecordReplaysOnceTheCauseIsFixed() async throws {
    let (c, _, host, dispatcher) = try await running()
    defer {
      dispatcher.cancel()
      c.remove()
    }
    let orders =
      #"[{"id": 5001, "email": "zoe@example.com", "total": 124.95}, {"id": 5002, "email": "ana@example.com", "total": 10}]"#
    _ = try await host.run(connector: "sync", job: "add_customer", input: #""ana@example.com""#)
    #expect(try await host.run(connector: "sync", job: "sync", input: orders).error == nil)
    var rows = try await host.store.records(RecordFilter(connector: "sync"))
    #expect(rows.map(\.outcome) == [.created, .rejected])
    let rejected = try #require(rows.first { $0.outcome == .rejected })
    #expect(rejected.key == "5001")
    #expect(rejected.error == "no ERP customer with email zoe@example.com")
    #expect(rejected.errorAt?.hasSuffix("connector.lua:6") == true)
    #expect(rejected.input.contains("124.95"))
    let created = try #require(rows.first { $0.outcome == .created })
    #expect(created.targetID == "INV101")
    #expect(
      created.details?.contains(#""account":"7010""#) == true && created.details?.contains(#""amount":10"#) == true)
    #expect(try await host.store.cursor(connector: "sync", name: "orders") == "5002")

    // Re-running creates nothing new, and the record still needs attention once: its new rejection is its state.
    #expect(try await host.run(connector: "sync", job: "sync", input: orders).error == nil)
    rows = try await host.store.records(RecordFilter(connector: "sync", limit: 2))
    #expect(Set(rows.map(\.outcome)) == [.unchanged, .rejected])
    let unresolved = try await host.store.records(RecordFilter(connector: "sync", unresolvedFailures: true))
    #expect(unresolved.count == 1)
    let current = try #require(unresolved.first)
    #expect(current.key == "5001" && current.id != rejected.id)
    #expect(try await host.store.record(id: rejected.id)?.resolvedBy == current.id)
    #expect(try await host.store.stats().unresolvedFailures == 1)
    #expect(try await host.store.stats().recordsByOutcome == ["unchanged": 1, "rejected": 1])

    // The cause is fixed, then the record alone is replayed, with its stored input (exact 124.95).
    _ = try await host.run(connector: "sync", job: "add_customer", input: #""zoe@example.com""#)
    let replay = try await host.replay(recordID: current.id)
    #expect(await host.outcome(of: replay).error == nil)
    let after = try await host.store.records(RecordFilter(connector: "sync", limit: 1))[0]
    #expect(after.outcome == .created)
    #expect(after.replayOf == current.id)
    #expect(after.details?.contains(#""amount":124.95"#) == true)
    #expect(try await host.store.record(id: current.id)?.resolvedBy == after.id)
    #expect(try await host.store.records(RecordFilter(connector: "sync", unresolvedFailures: true)).isEmpty)
    #expect(try await host.store.stats().recordsByOutcome == ["unchanged": 1, "created": 1])
    await host.shutdown()
  }

  @Test func scriptErrorsFailAtOnceAndRunAgainAfterAReload() async throws {
    let buggy = """
      local c = mlhost.connector { name = "bug" }
      c:handler("order", function(rec, order) return rec:created("erp", order.customer.id) end)
      c:job("records", function(job) job:record("order", "7", { customer = false }) end)
      c:job("broken", function() local settings = nil; return settings.url end)
      return c
      """
    let c = try TempConnector(script: buggy)
    defer { c.remove() }
    let clock = ManualClock()
    let host = try await c.host(options: options(clock, maxAttempts: 8))
    let dispatcher = Task { await host.runDispatcher() }
    defer { dispatcher.cancel() }

    // A job with a coding error is dead-lettered at its first attempt, not retried eight times.
    let job = try await host.enqueue(connector: "bug", job: "broken")
    #expect(try await eventually { try await host.store.job(id: job)?.state == .dead })
    #expect(try await host.store.job(id: job)?.attempts == 1)
    let lastError = try await host.store.job(id: job)?.lastError ?? ""
    #expect(lastError.contains("connector.lua:4: attempt to index a nil value"), "\(lastError)")

    // A record with a coding error fails once and waits: no retry of its own.
    #expect(try await host.run(connector: "bug", job: "records").error == nil)
    let failed = try #require(try await host.store.records(RecordFilter(connector: "bug")).first)
    #expect(failed.outcome == .failed && failed.errorKind == "script")
    clock.advance(600)
    try await Task.sleep(nanoseconds: 200_000_000)
    #expect(try await host.store.records(RecordFilter(connector: "bug")).count == 1)
    #expect(try await host.store.stats().jobsByState["queued"] == nil)

    // The fix is loaded: both run again on the new version, without anyone replaying them.
    try c.rewrite(
      buggy
        .replacingOccurrences(of: "order.customer.id", with: "\"C-\" .. rec.key")
        .replacingOccurrences(of: "return settings.url", with: "return 'fixed'"))
    await host.reload()
    #expect(try await eventually { try await host.store.job(id: job)?.state == .succeeded })
    #expect(try await eventually { try await host.store.record(id: failed.id)?.resolvedBy != nil })
    let fixed = try await host.store.records(RecordFilter(connector: "bug", limit: 1))[0]
    #expect(fixed.outcome == .created && fixed.targetID == "C-7" && fixed.replayOf == failed.id)
    await host.shutdown()
  }

  @Test func failedRecordIsRetriedOnItsOwn() async throws {
    let (c, clock, host, dispatcher) = try await running()
    defer {
      dispatcher.cancel()
      c.remove()
    }
    #expect(try await host.run(connector: "sync", job: "flaky").error == nil)  // the job goes on
    let failed = try await host.store.records(RecordFilter(connector: "sync"))[0]
    #expect(failed.outcome == .failed)
    #expect(failed.error?.contains("timeout talking to ERP") == true)
    clock.advance(2)
    #expect(try await eventually { try await host.store.record(id: failed.id)?.resolvedBy != nil })
    let fixed = try await host.store.records(RecordFilter(connector: "sync", limit: 1))[0]
    #expect(fixed.outcome == .created)
    #expect(fixed.replayOf == failed.id)
    await host.shutdown()
  }
}
