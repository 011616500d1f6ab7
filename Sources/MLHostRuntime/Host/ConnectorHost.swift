import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostModules
import MLHostStore
import MLHostSystems
import MLHostVM

/// Runs connectors: loads each script, swaps in new versions on change, turns schedule ticks into queued jobs
/// and runs queued jobs — triggers, ticks, webhook deliveries and replays alike — through one dispatcher.
public actor ConnectorHost {
  /// One connector script and the version of it that is live.
  final class Slot {
    let source: ConnectorSource
    var version: ConnectorVersion
    var running = 0
    /// The last reload that failed while `version` kept running; cleared when the files load again.
    var reloadFailure: ReloadFailure?

    init(source: ConnectorSource, version: ConnectorVersion) {
      self.source = source
      self.version = version
    }
  }

  public nonisolated let store: any JobStore
  private var slots: [Slot] = []
  private let logger: Logger
  private let options: HostOptions
  private var watcher: FileWatcher?
  private var retiring: [Task<Void, Never>] = []
  private var inFlight: [Int64: Task<Void, Never>] = [:]
  private var waiters: [Int64: [CheckedContinuation<JobOutcome, Never>]] = [:]
  /// Final outcomes of the latest jobs nobody waited for yet: a job can end between `enqueue` returning and
  /// `outcome(of:)` being called (the actor runs other work at each await), and that outcome must not be lost.
  private var unclaimedOutcomes: [Int64: JobOutcome] = [:]
  private var unclaimedOrder: [Int64] = []
  /// Jobs a cycle queued (trigger "cycle"): the first attempt's outcome, kept until the cycle reads it, since the
  /// job may finish before the cycle starts waiting for it.
  private var cycleOutcomes: [Int64: JobOutcome] = [:]
  private var cycleWaiters: [Int64: CheckedContinuation<JobOutcome, Never>] = [:]
  private static let interrupted = JobOutcome.failed(
    LuaError(
      message: "interrupted: the run was stopped before this job ended (it finishes within --grace or goes "
        + "back to the queue)"))
  /// Set by `interruptCycle`: a cycle still queueing its jobs stops waiting for them.
  private var cycleInterrupted = false
  private var accepting = true
  nonisolated let wake = WakeSignal()
  /// Reloads done, for tests and status.
  public private(set) var reloadCount = 0
  public nonisolated let metrics = HostMetrics()
  /// The declared webhooks, readable without a hop onto the actor (the ingress reads it per request).
  public nonisolated let routes = RouteTable()
  public nonisolated var maxAttempts: Int { options.retry.maxAttempts }
  /// The host's clock (tests move it).
  public nonisolated var now: Double { options.now() }

  private let authenticator: Authenticator?

  public init(
    store: any JobStore, logger: Logger, options: HostOptions = HostOptions(), authenticator: Authenticator? = nil
  ) {
    self.store = store
    self.logger = logger
    self.options = options
    self.authenticator = authenticator
  }

  private var runtime: JobRuntime {
    var r = JobRuntime(
      store: store, retry: options.retry, authenticator: authenticator, journal: options.journal, now: options.now)
    r.metrics = metrics
    return r
  }

  /// Loads every connector; any that fails to load stops the start with its `path:line: message`.
  public func start(_ sources: [ConnectorSource]) async throws {
    for source in sources {
      let version = try await ConnectorVersion.load(source, logger: logger, runtime: runtime)
      if let clash = slots.first(where: { $0.version.definition.name == version.definition.name }) {
        await version.retire(grace: 0)
        throw HostError(
          .input,
          "\(ModulePaths.displayName(source.script)): connector name '\(version.definition.name)' "
            + "is already used by \(ModulePaths.displayName(clash.source.script))")
      }
      slots.append(Slot(source: source, version: version))
      try await syncSchedules(version.definition)
      try await store.saveSource(source, name: version.definition.name)
      logger.info("loaded connector \(version.definition.name)", metadata: versionMetadata(version))
    }
    routes.update(slots.map { $0.version.definition })
    if options.watch {
      watcher = try FileWatcher { [weak self] changed in
        guard let self else { return }
        Task { await self.reload(changed: changed) }
      }
      updateWatches()
    }
  }

  private func versionMetadata(_ v: ConnectorVersion) -> Logger.Metadata {
    [
      "connector": .string(v.definition.name), "version": .string(v.shortHash),
      "jobs": .string(v.definition.jobOrder.joined(separator: ",")),
      "script": .string(ModulePaths.displayName(v.source.script)),
    ]
  }

  private func updateWatches() {
    watcher?.watch(slots.flatMap { $0.version.files })
    routes.update(slots.map { $0.version.definition })
  }

  public var definitions: [ConnectorDefinition] { slots.map { $0.version.definition } }

  /// The live version of a connector, by name.
  public func version(of connector: String) -> ConnectorVersion? {
    slot(connector)?.version
  }

  private func slot(_ connector: String) -> Slot? {
    slots.first { $0.version.definition.name == connector }
  }

  // MARK: reload

  /// Reloads the connectors that depend on any of `changed` (all of them when nil, as on SIGHUP).
  public func reload(changed: [URL]? = nil) async {
    for slot in slots where changed.map({ c in c.contains { slot.version.files.contains($0) } }) ?? true {
      await reload(slot)
    }
    updateWatches()
  }

  private func reload(_ slot: Slot, fresh: Bool = false) async {
    let old = slot.version
    do {
      let new = try await ConnectorVersion.load(slot.source, logger: logger, runtime: runtime)
      logger.debug(
        "reload check",
        metadata: [
          "connector": .string(old.definition.name), "running": .string(old.shortHash),
          "on_disk": .string(new.shortHash),
          "changed": .stringConvertible(new.contentHash != old.contentHash),
        ])
      guard new.contentHash != old.contentHash || fresh else {
        // Back to what runs (a broken edit undone): nothing to swap, nothing failing any more.
        slot.reloadFailure = nil
        await new.retire(grace: 0)
        return
      }
      guard new.definition.name == old.definition.name else {
        await new.retire(grace: 0)
        throw HostError(.input, "a reload cannot rename connector '\(old.definition.name)' (restart the host)")
      }
      try await syncSchedules(new.definition)
      slot.version = new
      slot.reloadFailure = nil
      reloadCount += 1
      var meta = versionMetadata(new)
      meta["previous"] = .string(old.shortHash)
      logger.info(
        fresh ? "connector \(new.definition.name) runs on a fresh VM" : "reloaded connector \(new.definition.name)",
        metadata: meta)
      let rerun = try await store.rerunScriptFailures(
        connector: new.definition.name, now: options.now(), maxAttempts: options.retry.maxAttempts)
      if rerun.jobs + rerun.records > 0 {
        logger.info(
          "queued again after the reload: \(rerun.jobs) job(s) and \(rerun.records) record(s) that failed with a script error",
          metadata: ["connector": .string(new.definition.name)])
        wake.signal()
      }
      let grace = options.grace
      retiring.append(Task { await old.retire(grace: grace) })
    } catch {
      // Remembered until a reload succeeds, so `mlhost status` shows that the files on disk are not what runs.
      slot.reloadFailure = ReloadFailure(
        error: SecretRedactor.shared.redact("\(error)"), at: options.now(), running: old.shortHash)
      logger.error(
        "reload failed; version \(old.shortHash) keeps running: \(error)",
        metadata: ["connector": .string(old.definition.name)])
    }
  }

  /// The failed reload of a connector that still runs its previous version, if any.
  public func reloadFailure(of connector: String) -> ReloadFailure? {
    slot(connector)?.reloadFailure
  }

  // MARK: queueing

  /// Queues job `job` of `connector` with a JSON `input`; returns the job id.
  public func enqueue(
    connector: String, job: String, input: String? = nil, trigger: JobTrigger = .manual,
    key: String? = nil
  ) async throws -> Int64 {
    guard let version = version(of: connector) else {
      throw HostError(.notFound, "no connector named '\(connector)' is loaded")
    }
    guard version.definition.jobs[job] != nil else {
      throw HostError(
        .notFound,
        "connector '\(connector)' has no job '\(job)'; it has: "
          + version.definition.jobOrder.joined(separator: ", "))
    }
    let id = try await store.enqueue(
      NewJob(
        connector: connector, job: job, input: input, trigger: trigger, orderingKey: key,
        maxAttempts: options.retry.maxAttempts, runAt: options.now()))
    wake.signal()
    return id
  }

  /// Queues a replay of a stored record (rejected or failed) on the current script version.
  public func replay(recordID: Int64) async throws -> Int64 {
    guard let row = try await store.record(id: recordID) else { throw HostError(.notFound, "no record \(recordID)") }
    guard version(of: row.connector) != nil else {
      throw HostError(.notFound, "record \(recordID) belongs to connector '\(row.connector)', which is not loaded")
    }
    let id = try await store.enqueue(
      NewJob(
        connector: row.connector, job: ReplayJob.name, trigger: .replay, orderingKey: "\(row.kind):\(row.key)",
        maxAttempts: options.retry.maxAttempts, runAt: options.now(), recordID: recordID))
    wake.signal()
    return id
  }

  /// Queues a job and waits until this host has run it to the end (through retries).
  public func run(connector: String, job: String, input: String? = nil) async throws -> JobOutcome {
    let id = try await enqueue(connector: connector, job: job, input: input)
    return await outcome(of: id)
  }

  /// Runs every scheduled job of every connector once, now, and answers what happened: the jobs' outcomes and the
  /// records they wrote. The schedules count it as their firing. A dispatcher must be running.
  public func runCycle() async throws -> CycleReport {
    let started = options.now()
    var queued: [(String, String, Int64)] = []
    for slot in slots {
      let d = slot.version.definition
      for (job, spec) in d.schedules {
        queued.append((d.name, job, try await enqueue(connector: d.name, job: job, trigger: .cycle)))
        let next = try spec.next(after: started) ?? .infinity
        try await store.upsertSchedule(connector: d.name, job: job, spec: spec.description, next: next)
      }
    }
    var report = CycleReport()
    for (connector, job, id) in queued {
      // One pass: a job that fails is reported now and retried by the queue later, not waited for.
      let outcome: JobOutcome
      if let done = cycleOutcomes.removeValue(forKey: id) {
        outcome = done
      } else {
        outcome = cycleInterrupted ? Self.interrupted : await withCheckedContinuation { cycleWaiters[id] = $0 }
      }
      let error = outcome.error
      report.jobs.append((connector, job, error.map { SecretRedactor.shared.redact($0.message) }))
    }
    report.records = try await store.records(RecordFilter(since: started, limit: 100_000)).reversed()
    return report
  }

  /// Ends the wait of a cycle in progress (the run is being stopped): each job it still waits for is reported
  /// interrupted; the jobs themselves finish within the grace period or go back to the queue.
  public func interruptCycle() {
    cycleInterrupted = true
    for (_, waiter) in cycleWaiters {
      waiter.resume(returning: Self.interrupted)
    }
    cycleWaiters = [:]
  }

  /// Waits for the final outcome of job `id` on this host.
  public func outcome(of id: Int64) async -> JobOutcome {
    if let done = unclaimedOutcomes.removeValue(forKey: id) { return done }
    return await withCheckedContinuation { waiters[id, default: []].append($0) }
  }

  // MARK: dispatching

  /// Claims and runs queued jobs until the task is cancelled.
  public func runDispatcher() async {
    var lastRenewal = options.now()
    while !Task.isCancelled && accepting {
      let free = Dictionary(
        uniqueKeysWithValues: slots.map { ($0.version.definition.name, options.concurrency - $0.running) })
      var claimed: [LeasedJob] = []
      if free.values.contains(where: { $0 > 0 }) {
        do {
          claimed = try await store.claim(
            owner: options.owner, now: options.now(), leaseSeconds: options.leaseSeconds, freeSlots: free)
        } catch {
          logger.error("claiming jobs failed: \(error)")
        }
      }
      for job in claimed { start(job) }
      if options.now() - lastRenewal > options.leaseSeconds / 3 {
        lastRenewal = options.now()
        try? await store.renew(
          owner: options.owner, jobIDs: Array(inFlight.keys), until: options.now() + options.leaseSeconds)
      }
      if claimed.isEmpty { await wake.wait(timeout: options.pollInterval) }
    }
  }

  private func start(_ leased: LeasedJob) {
    guard let slot = slot(leased.connector) else { return }
    slot.running += 1
    let version = slot.version
    inFlight[leased.id] = Task {
      let outcome = await self.execute(leased, on: version)
      await self.finished(leased, slot: slot, version: version, outcome: outcome)
    }
  }

  private nonisolated func execute(_ leased: LeasedJob, on version: ConnectorVersion) async -> JobOutcome {
    var run = JobRun(
      job: leased.job, input: .json(leased.input), trigger: leased.trigger, jobID: leased.id, attempt: leased.attempt)
    if leased.job == ReplayJob.name {
      guard let id = leased.recordID, let row = try? await store.record(id: id) else {
        return .failed(LuaError(message: "the record to replay is gone", value: ["retryable": false]))
      }
      run.record = row
    }
    let start = Date()
    logger.debug(
      "job started",
      metadata: [
        "connector": .string(leased.connector), "job": .string(leased.job), "id": .stringConvertible(leased.id),
        "run": .string(JobContext.shortRunID(run.runID)), "trigger": .string(leased.trigger.rawValue),
        "attempt": .stringConvertible(leased.attempt), "version": .string(version.shortHash),
      ])
    let outcome = await version.run(run)
    metrics.jobRan(connector: leased.connector, job: leased.job, seconds: Date().timeIntervalSince(start))
    var meta: Logger.Metadata = [
      "connector": .string(leased.connector), "job": .string(leased.job), "id": .stringConvertible(leased.id),
      "run": .string(JobContext.shortRunID(run.runID)), "trigger": .string(leased.trigger.rawValue),
      "attempt": .stringConvertible(leased.attempt),
      "ms": .stringConvertible(Int(Date().timeIntervalSince(start) * 1000)),
    ]
    switch outcome {
    case .succeeded: logger.info("job finished", metadata: meta)
    case .failed(let e) where e.kind == .script || e.limitExceeded:
      // A mistake in the script or a limit: the traceback shows where.
      if !e.traceback.isEmpty { meta["traceback"] = .string(e.traceback) }
      logger.error("job failed: \(e.message)", metadata: meta)
    case .failed(let e):
      // A failure the world caused (a system down, throttling): expected, retried as it says; no traceback.
      meta["error_kind"] = .string(e.kind.rawValue)
      logger.warning("job failed: \(e.message)", metadata: meta)
    }
    return outcome
  }

  private func finished(_ leased: LeasedJob, slot: Slot, version: ConnectorVersion, outcome: JobOutcome) async {
    slot.running -= 1
    inFlight[leased.id] = nil
    var final = true
    do {
      switch outcome {
      case .succeeded:
        try await store.finish(
          jobID: leased.id, owner: options.owner, now: options.now(), succeeded: true, error: nil, errorKind: nil,
          retryAt: nil)
      case .failed(let e):
        // A VM left full by what it keeps between jobs fails every later job: the connector gets a fresh one.
        if e.limitExceeded, slot.version === version, await version.isMemoryExhausted() {
          logger.warning(
            "the VM of \(leased.connector) stays at its memory limit after job \(leased.id); replacing it",
            metadata: ["connector": .string(leased.connector)])
          await reload(slot, fresh: true)
        }
        let retryAt = retryTime(leased, e)
        final = retryAt == nil
        if !final {
          logger.warning(
            "job will be retried",
            metadata: [
              "connector": .string(leased.connector), "job": .string(leased.job), "id": .stringConvertible(leased.id),
              "in_seconds": .stringConvertible(Int(retryAt! - options.now())),
            ])
        } else {
          logger.error(
            "job dead-lettered",
            metadata: [
              "connector": .string(leased.connector), "job": .string(leased.job), "id": .stringConvertible(leased.id),
            ])
        }
        try await store.finish(
          jobID: leased.id, owner: options.owner, now: options.now(), succeeded: false,
          error: SecretRedactor.shared.redact(e.message), errorKind: e.kind == .script ? "script" : nil,
          retryAt: retryAt)
      }
    } catch {
      logger.error("recording the end of job \(leased.id) failed: \(error)")
    }
    metrics.jobFinished(
      connector: leased.connector, job: leased.job,
      result: outcome.error == nil ? "succeeded" : final ? "dead" : "retry")
    if final {
      if let ws = waiters.removeValue(forKey: leased.id) {
        for w in ws { w.resume(returning: outcome) }
      } else if leased.trigger != .schedule && leased.trigger != .webhook {
        // Only jobs someone may ask about (manual, replay, job, retry, cycle); a thousand at most.
        unclaimedOutcomes[leased.id] = outcome
        unclaimedOrder.append(leased.id)
        if unclaimedOrder.count > 1000 { unclaimedOutcomes[unclaimedOrder.removeFirst()] = nil }
      }
    }
    if leased.trigger == .cycle && leased.attempt == 1 {
      if let w = cycleWaiters.removeValue(forKey: leased.id) {
        w.resume(returning: outcome)
      } else {
        cycleOutcomes[leased.id] = outcome
      }
    }
    wake.signal()
  }

  /// When to retry a failed job, or nil to dead-letter it: errors marked `retryable = false`, limit breaches and
  /// the last attempt are final.
  private func retryTime(_ leased: LeasedJob, _ e: LuaError) -> Double? {
    // A script error fails the same way on the same code: it waits for a reload (or a replay) instead.
    if e.value?["retryable"] == .boolean(false) || e.limitExceeded || e.kind == .script { return nil }
    guard leased.attempt < leased.maxAttempts else { return nil }
    var retryAfter: Double?
    switch e.value?["retry_after"] {
    case .integer(let i)?: retryAfter = Double(i)
    case .number(let d)?: retryAfter = d
    default: break
    }
    // The script's value: a NaN or a century must not become the queue's time.
    retryAfter = retryAfter.map { $0.isFinite ? min(max($0, 0), 86_400) : 0 }
    return options.now() + options.retry.delay(afterAttempt: leased.attempt, retryAfter: retryAfter)
  }

  // MARK: schedules

  /// Persists the schedules of a (re)loaded version. An unchanged schedule keeps its persisted next time (so a
  /// restart after downtime runs a missed schedule once); a new or changed interval job is due at once, a cron
  /// job at its next firing.
  private func syncSchedules(_ d: ConnectorDefinition) async throws {
    for (job, spec) in d.schedules {
      let stored = try await store.schedule(connector: d.name, job: job)
      if stored?.spec == spec.description { continue }
      let now = options.now()
      let next: Double
      if case .every = spec { next = now } else { next = try spec.next(after: now) ?? .infinity }
      try await store.upsertSchedule(connector: d.name, job: job, spec: spec.description, next: next)
    }
  }

  /// Queues the jobs whose schedules are due, until the task is cancelled. Each firing is a compare-and-set in
  /// the store, so several hosts sharing it fire each schedule once.
  public func runScheduler() async {
    var nextPrune = options.now()
    while !Task.isCancelled && accepting {
      if options.now() >= nextPrune {
        nextPrune = options.now() + options.pruneInterval
        await pruneExpired()
      }
      var earliest = options.now() + 1
      for slot in slots {
        let d = slot.version.definition
        for (job, spec) in d.schedules {
          do {
            guard let stored = try await store.schedule(connector: d.name, job: job) else { continue }
            let now = options.now()
            guard stored.next <= now else {
              earliest = min(earliest, stored.next)
              continue
            }
            let next = try spec.next(after: now) ?? .infinity
            let fired = try await store.fireSchedule(
              connector: d.name, job: job, expected: stored.next, next: next,
              enqueue: NewJob(
                connector: d.name, job: job, trigger: .schedule, orderingKey: "schedule:\(job)",
                maxAttempts: options.retry.maxAttempts, runAt: now))
            if fired { wake.signal() }
            earliest = min(earliest, next)
          } catch {
            logger.error("schedule \(d.name).\(job) failed: \(error)")
          }
        }
      }
      let wait = min(max(earliest - options.now(), 0.005), 1.0)
      try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
    }
  }

  /// Deletes the succeeded jobs and webhook delivery ids `options.retention` lets go, a batch per commit so that
  /// deliveries committing meanwhile never wait behind one large delete.
  func pruneExpired() async {
    let before = options.now() - options.retention
    let batch = 500
    var jobs = 0
    var deliveries = 0
    do {
      while !Task.isCancelled {
        let n = try await store.prune(before: before, limit: batch)
        jobs += n.jobs
        deliveries += n.deliveries
        if n.jobs < batch && n.deliveries < batch { break }
      }
    } catch {
      logger.error("pruning the store failed: \(error)")
    }
    if jobs + deliveries > 0 {
      logger.info(
        "pruned finished jobs and webhook delivery ids past retention",
        metadata: [
          "jobs": .stringConvertible(jobs), "deliveries": .stringConvertible(deliveries),
        ])
    }
  }

  // MARK: shutdown

  /// Stops taking work, lets running jobs finish within the grace period, returns the rest to the queue for
  /// the next start (or another host), and retires every version.
  public func shutdown() async {
    accepting = false
    wake.signal()
    watcher?.stop()
    watcher = nil
    let grace = options.grace
    let running = Array(inFlight.values)
    let drained = ResumeOnceFlag()
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let once = ResumeOnce(c)
      Task {
        for t in running { await t.value }
        drained.set()
        once.resume()
      }
      Task {
        try? await Task.sleep(nanoseconds: UInt64(grace * 1e9))
        once.resume()
      }
    }
    if !drained.isSet { logger.warning("grace period over: \(inFlight.count) job(s) go back to the queue") }
    try? await store.release(owner: options.owner)
    let versions = slots.map(\.version)
    let pending = retiring
    await withTaskGroup(of: Void.self) { group in
      for version in versions { group.addTask { await version.retire(grace: 0) } }
      for task in pending { group.addTask { await task.value } }
    }
    retiring = []
  }
}

final class ResumeOnceFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  func set() { lock.withLock { value = true } }
  var isSet: Bool { lock.withLock { value } }
}

/// Webhook routes by connector and name, swapped whole on every (re)load.
public final class RouteTable: @unchecked Sendable {
  private let lock = NSLock()
  private var table: [String: WebhookDeclaration] = [:]

  private var names: [String] = []

  /// The connectors that declare webhooks.
  public var connectors: [String] { lock.withLock { names } }

  func update(_ definitions: [ConnectorDefinition]) {
    var t: [String: WebhookDeclaration] = [:]
    for d in definitions { for w in d.webhooks { t["\(d.name)/\(w.name)"] = w } }
    let declaring = definitions.filter { !$0.webhooks.isEmpty }.map(\.name)
    lock.withLock { (table, names) = (t, declaring) }
  }

  public func webhook(connector: String, name: String) -> WebhookDeclaration? {
    lock.withLock { table["\(connector)/\(name)"] }
  }

  /// The webhooks `connector` declares, by name.
  public func webhooks(connector: String) -> [WebhookDeclaration] {
    lock.withLock { table.filter { $0.key.hasPrefix(connector + "/") }.sorted { $0.key < $1.key }.map(\.value) }
  }

  /// The topics and route names of `connector`'s webhooks from `system`: what a store subscribes.
  public func subscriptions(connector: String, system: WebhookDeclaration.System) -> [(topic: String, name: String)] {
    webhooks(connector: connector).filter { $0.system == system }.map { ($0.topic, $0.name) }
  }
}
