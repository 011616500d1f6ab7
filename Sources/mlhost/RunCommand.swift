import ArgumentParser
import Dispatch
import Foundation
import Logging
import MLHostRuntime
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Runs connectors until SIGTERM or SIGINT, then lets running jobs finish and exits 0.",
    discussion: "A change to a script, a module it required or its settings file reloads that connector; so does SIGHUP.")

  @OptionGroup var scripts: ScriptOptions
  @OptionGroup var logging: LogOptions

  @Option(help: "Folder for the host's durable state (the SQLite store); created on first run.")
  var state = ".mlhost"

  @Option(help: "Jobs of one connector running at once.")
  var concurrency = 16

  @Option(help: "Seconds running jobs may take to finish at shutdown or after a reload.")
  var grace: Double = 30

  @Flag(help: "Do not reload when files change (SIGHUP still reloads).")
  var noWatch = false

  func run() async throws {
    let logger = logging.makeLogger()
    let store: SQLiteStore
    do { store = try SQLiteStore(directory: URL(fileURLWithPath: state)) } catch {
      FileHandle.standardError.write(Data("\(state): \(error)\n".utf8))
      throw ExitCode(1)
    }
    let host = ConnectorHost(
      store: store, logger: logger, options: HostOptions(grace: grace, watch: !noWatch, concurrency: concurrency))
    do {
      try await host.start(try scripts.sources())
    } catch {
      FileHandle.standardError.write(Data("\(error)\n".utf8))
      throw ExitCode(1)
    }
    signal(SIGHUP, SIG_IGN)
    let hangup = DispatchSource.makeSignalSource(signal: SIGHUP)
    hangup.setEventHandler {
      logger.info("SIGHUP: reloading every connector")
      Task { await host.reload() }
    }
    hangup.resume()
    let group = ServiceGroup(
      services: [HostService(host: host, logger: logger)], gracefulShutdownSignals: [.sigterm, .sigint],
      logger: logger)
    try await group.run()
    hangup.cancel()
  }
}

/// The host as a service: fires schedules and dispatches jobs until graceful shutdown, then drains running jobs.
struct HostService: Service {
  let host: ConnectorHost
  let logger: Logger

  func run() async throws {
    await cancelWhenGracefulShutdown {
      await withTaskGroup(of: Void.self) { group in
        group.addTask { await host.runScheduler() }
        group.addTask { await host.runDispatcher() }
      }
    }
    logger.info("shutting down: letting running jobs finish")
    await host.shutdown()
    logger.info("stopped")
  }
}
