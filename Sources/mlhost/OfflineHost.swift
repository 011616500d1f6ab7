import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostStore
import MLHostSystems

/// The connectors of a state folder run in this process, for the operator verbs when no host runs there: each is
/// loaded as the last `mlhost run` on the folder loaded it (script, settings file, `--set` values), and its queue
/// runs until the jobs asked for have ended. Other jobs of those connectors that are due meanwhile run too, as in
/// `--once`; schedules do not fire.
struct OfflineHost {
  let host: ConnectorHost
  private let dispatcher: Task<Void, Never>
  private let lock: StateFolder.Lock

  static func start(_ state: StateOptions, connectors: Set<String>, logger: Logger) async throws -> OfflineHost {
    let lock: StateFolder.Lock
    do { lock = try StateFolder.Lock(state.directory) } catch {
      throw HostError(.setup, "\(error) (its admin API did not answer either; is it still starting?)")
    }
    let store = try state.store()
    let vault = try state.vault()
    try vault.registerSecrets()
    var sources: [ConnectorSource] = []
    for name in connectors.sorted() {
      guard let source = try await store.savedSource(of: name) else {
        throw HostError(
          .setup,
          "connector '\(name)' was never run on \(state.state): start it with `mlhost run <script.lua>`")
      }
      sources.append(source)
    }
    var options = HostOptions(grace: 30, watch: false)
    options.retry.maxAttempts = 1  // a failure is reported now; the record stays in `mlhost audit --failed`
    let host = ConnectorHost(
      store: store, logger: logger, options: options, authenticator: Authenticator(vault: vault, now: options.now))
    do { try await host.start(sources) } catch { throw HostError(.input, "\(error)") }
    return OfflineHost(host: host, dispatcher: Task { await host.runDispatcher() }, lock: lock)
  }

  func stop() async {
    dispatcher.cancel()
    await host.shutdown()
    withExtendedLifetime(lock) {}
  }
}

/// What happened to the jobs an operator verb queued, read from the store (the same for a running host and for an
/// offline one): each job's end, and the records it wrote in their latest state.
enum QueuedWork {
  /// Waits until the jobs have ended (or `timeout`), polling the store a running host writes to.
  static func waitForEnd(of ids: [Int64], in store: SQLiteStore, timeout: Double = 120) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      var open = 0
      for id in ids {
        guard let job = try await store.job(id: id) else { continue }
        if job.state == .running || (job.state == .queued && job.attempts == 0) { open += 1 }
      }
      if open == 0 { return true }
      try await Task.sleep(for: .milliseconds(100))
    }
    return false
  }

  /// One line per record: its latest state, and for one that still needs attention, the command to replay it.
  static func describe(records: [RecordRow], stateHint: String) -> [String] {
    records.map { r in
      switch r.outcome {
      case .created, .updated, .unchanged:
        return "  \(r.kind) \(r.key): \(r.outcome.rawValue)"
          + (r.targetID.map { " \(r.targetSystem ?? "") \($0)" } ?? "")
      case .rejected, .failed:
        return
          "  \(r.kind) \(r.key): \(r.outcome.rawValue): \(r.error ?? "")\n    → \(Invocation.replay(r.id, stateHint: stateHint))"
      }
    }
  }
}

extension Logger {
  /// What an operator verb that runs connectors in this process logs: warnings and errors, on standard error.
  static var operatorVerb: Logger {
    var logger = Logger(label: "mlhost") { LineLogHandler(label: $0, format: .text) }
    logger.logLevel = .warning
    return logger
  }
}
