import Foundation
import Logging
import MLHostRuntime
import MLHostStore
import ServiceLifecycle

/// The host as a service (swift-service-lifecycle): fires schedules and dispatches jobs until graceful shutdown,
/// then drains running jobs. With `firstCycle`, every scheduled job runs once first and what it did is printed to
/// standard output (`once` stops there, printing it after the drain).
public struct HostService: Service {
  let host: ConnectorHost
  let logger: Logger
  var firstCycle = false
  var replayCommand: (@Sendable (Int64) -> String)?
  /// Printed after the first cycle's summary.
  public var note = ""
  /// Stop after the first cycle.
  var once = false

  /// `replayCommand` prints the command that replays a record (the summary lists it under each failure).
  public init(
    host: ConnectorHost, logger: Logger, firstCycle: Bool = false,
    replayCommand: (@Sendable (Int64) -> String)? = nil, once: Bool = false
  ) {
    (self.host, self.logger, self.firstCycle, self.replayCommand, self.once) = (
      host, logger, firstCycle, replayCommand, once
    )
  }

  public func run() async throws {
    // A stop asked for during the first cycle ends the wait for it: its jobs finish within the grace period or go
    // back to the queue, and the summary says which were interrupted.
    let oneShot = try await withGracefulShutdownHandler {
      try await runUntilShutdown()
    } onGracefulShutdown: { [host] in
      Task { await host.interruptCycle() }
    }
    logger.info("shutting down: letting running jobs finish")
    await host.shutdown()
    // A one-shot run prints its summary once the jobs still running (retries of the cycle's records) have
    // ended, so it tells each record's state as the run leaves it — what `audit` and `status` then show.
    if case (var report, let started)? = oneShot {
      if let records = try? await host.store.records(RecordFilter(since: started, limit: 100_000)) {
        report.records = records.reversed()
      }
      printSummary(report, started: started)
    }
    logger.info("stopped")
  }

  private func printSummary(_ report: CycleReport, started: Double) {
    let seconds = String(format: "%.1f", Date().timeIntervalSince1970 - started)
    let text =
      "\nfirst cycle finished in \(seconds) s\n\(report.text(replayCommand: replayCommand))\n"
      + (note.isEmpty ? "" : note + "\n") + "\n"
    FileHandle.standardOutput.write(Data(text.utf8))
  }

  /// The first cycle's report and its start, when this is a one-shot run (printed once the run has drained).
  private func runUntilShutdown() async throws -> (CycleReport, Double)? {
    await cancelWhenGracefulShutdown {
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await host.runDispatcher() }
        var oneShot: (CycleReport, Double)?
        if firstCycle {
          let started = Date().timeIntervalSince1970
          do {
            let report = try await host.runCycle()
            if once { oneShot = (report, started) } else { printSummary(report, started: started) }
          } catch {
            logger.error("the first cycle failed: \(error)")
          }
        }
        if once {
          group.cancelAll()
        } else {
          group.addTask { await host.runScheduler() }
        }
        return oneShot
      }
    }
  }
}
