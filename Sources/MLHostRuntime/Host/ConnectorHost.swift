import Foundation
import Logging
import MLHostLua

public struct HostOptions: Sendable {
  /// How long a retired version's running jobs may take before its VM is closed.
  public var grace: Double = 30
  /// Reload when a loaded file changes.
  public var watch = true

  public init(grace: Double = 30, watch: Bool = true) {
    self.grace = grace
    self.watch = watch
  }
}

/// Runs connectors: loads each script, swaps in new versions on change, fires schedules and runs triggered jobs.
public actor ConnectorHost {
  /// One connector script and the version of it that is live.
  final class Slot {
    let source: ConnectorSource
    var version: ConnectorVersion
    var schedules = ScheduleTable()
    var runningScheduled: Set<String> = []

    init(source: ConnectorSource, version: ConnectorVersion) {
      self.source = source
      self.version = version
    }
  }

  private var slots: [Slot] = []
  private let logger: Logger
  private let options: HostOptions
  private var watcher: FileWatcher?
  private var retiring: [Task<Void, Never>] = []
  /// Reloads done, for tests and status.
  public private(set) var reloadCount = 0

  public init(logger: Logger, options: HostOptions = HostOptions()) {
    self.logger = logger
    self.options = options
  }

  /// Loads every connector; any that fails to load stops the start with its `path:line: message`.
  public func start(_ sources: [ConnectorSource]) async throws {
    for source in sources {
      let version = try await ConnectorVersion.load(source, logger: logger)
      if let clash = slots.first(where: { $0.version.definition.name == version.definition.name }) {
        await version.retire(grace: 0)
        throw LoadError(message: "\(ModulePaths.displayName(source.script)): connector name '\(version.definition.name)' "
          + "is already used by \(ModulePaths.displayName(clash.source.script))")
      }
      let slot = Slot(source: source, version: version)
      try slot.schedules.update(version.definition.schedules, now: Self.now())
      slots.append(slot)
      logger.info("loaded connector \(version.definition.name)", metadata: versionMetadata(version))
    }
    if options.watch {
      watcher = try FileWatcher { [weak self] changed in
        guard let self else { return }
        Task { await self.reload(changed: changed) }
      }
      updateWatches()
    }
  }

  static func now() -> Double { Date().timeIntervalSince1970 }

  private func versionMetadata(_ v: ConnectorVersion) -> Logger.Metadata {
    [
      "connector": .string(v.definition.name), "version": .string(v.shortHash),
      "jobs": .string(v.definition.jobOrder.joined(separator: ",")),
    ]
  }

  private func updateWatches() {
    watcher?.watch(slots.flatMap { $0.version.files })
  }

  public var definitions: [ConnectorDefinition] { slots.map { $0.version.definition } }

  /// The live version of a connector, by name.
  public func version(of connector: String) -> ConnectorVersion? {
    slots.first { $0.version.definition.name == connector }?.version
  }

  /// Reloads the connectors that depend on any of `changed` (all of them when nil, as on SIGHUP).
  public func reload(changed: [URL]? = nil) async {
    for slot in slots where changed.map({ c in c.contains { slot.version.files.contains($0) } }) ?? true {
      await reload(slot)
    }
    updateWatches()
  }

  private func reload(_ slot: Slot) async {
    let old = slot.version
    do {
      let new = try await ConnectorVersion.load(slot.source, logger: logger)
      guard new.contentHash != old.contentHash || new.definition.name != old.definition.name else {
        await new.retire(grace: 0)
        return
      }
      try slot.schedules.update(new.definition.schedules, now: Self.now())
      slot.version = new
      reloadCount += 1
      var meta = versionMetadata(new)
      meta["previous"] = .string(old.shortHash)
      logger.info("reloaded connector \(new.definition.name)", metadata: meta)
      let grace = options.grace
      retiring.append(Task { await old.retire(grace: grace) })
    } catch {
      logger.error(
        "reload failed; version \(old.shortHash) keeps running: \(error)",
        metadata: ["connector": .string(old.definition.name)])
    }
  }

  /// Runs a job of a connector now, on its live version, and waits for it.
  public func trigger(connector: String, job: String, input: LuaValue = .nil_, trigger: String = "manual") async throws
    -> JobOutcome
  {
    guard let version = version(of: connector) else {
      throw LoadError(message: "no connector named '\(connector)' is loaded")
    }
    guard version.definition.jobs[job] != nil else {
      throw LoadError(message: "connector '\(connector)' has no job '\(job)'; it has: "
        + version.definition.jobOrder.joined(separator: ", "))
    }
    return await run(version, job: job, input: input, trigger: trigger)
  }

  private func run(_ version: ConnectorVersion, job: String, input: LuaValue, trigger: String) async -> JobOutcome {
    let runID = Digest.uuid4()
    let start = Date()
    let outcome = await version.run(job: job, input: input, runID: runID, trigger: trigger)
    var meta: Logger.Metadata = [
      "connector": .string(version.definition.name), "job": .string(job), "run": .string(runID),
      "trigger": .string(trigger), "ms": .stringConvertible(Int(Date().timeIntervalSince(start) * 1000)),
    ]
    switch outcome {
    case .succeeded: logger.info("job finished", metadata: meta)
    case .failed(let e):
      if !e.traceback.isEmpty { meta["traceback"] = .string(e.traceback) }
      logger.error("job failed: \(e.message)", metadata: meta)
    }
    return outcome
  }

  /// Fires schedules until the task is cancelled. A scheduled job still running when it is due again skips that
  /// firing rather than piling up.
  public func runScheduler() async {
    while !Task.isCancelled {
      let now = Self.now()
      for slot in slots {
        for job in slot.schedules.takeDue(now: now) {
          guard !slot.runningScheduled.contains(job) else {
            logger.debug("skipping a firing: still running", metadata: ["job": .string(job)])
            continue
          }
          slot.runningScheduled.insert(job)
          let version = slot.version
          Task {
            _ = await self.run(version, job: job, input: .nil_, trigger: "schedule")
            self.scheduledFinished(slot, job)
          }
        }
      }
      let next = slots.compactMap { $0.schedules.nextDeadline }.min() ?? now + 1
      let wait = min(max(next - Self.now(), 0.001), 1.0)
      try? await Task.sleep(nanoseconds: UInt64(wait * 1e9))
    }
  }

  private func scheduledFinished(_ slot: Slot, _ job: String) { slot.runningScheduled.remove(job) }

  /// Stops watching and retires every version, letting running jobs finish within the grace period.
  public func shutdown() async {
    watcher?.stop()
    watcher = nil
    let grace = options.grace
    let versions = slots.map(\.version)
    let pending = retiring
    await withTaskGroup(of: Void.self) { group in
      for version in versions { group.addTask { await version.retire(grace: grace) } }
      for task in pending { group.addTask { await task.value } }
    }
    retiring = []
  }
}
