import Foundation
import MLHostCore
import MLHostStore
import MLHostVM

/// A reload that failed: the files on disk do not load, and the version `running` goes on.
public struct ReloadFailure: Codable, Sendable, Equatable {
  /// `path:line: message`.
  public var error: String
  /// When it failed (Unix seconds).
  public var at: Double
  /// The short hash of the version that keeps running.
  public var running: String
}

/// What `mlhost status` and `GET /status` report: data, no display strings. Times are ISO 8601 (UTC).
public struct HostStatus: Codable, Sendable {
  public struct Connector: Codable, Sendable {
    public var name: String
    public var version: String
    public var script: String
    public var jobs: [String]
    public var webhooks: [Webhook]
    /// Set while the files on disk fail to load and `version` keeps running.
    public var reloadFailure: Failure?
  }

  public struct Webhook: Codable, Sendable {
    public var path: String
    public var system: String
    public var topic: String
    public var job: String
  }

  public struct Failure: Codable, Sendable {
    public var error: String
    public var at: String
    public var running: String
  }

  /// One job of a connector: its schedule and next firing, its last finished run and its last error.
  public struct Job: Codable, Sendable {
    public var connector: String
    public var job: String
    public var schedule: String?
    public var nextRun: String?
    public var lastRun: String?
    public var lastState: String?
    public var lastError: String?
    /// "script" for a mistake in the script (runs again after a reload), nil for other failures.
    public var lastErrorKind: String?
    public var queued: Int
    public var running: Int
    public var dead: Int
  }

  /// Whether a host answered (false: read from the store alone, so `connectors` is empty).
  public var hostRunning: Bool
  public var connectors: [Connector]
  public var jobs: [String: Int]
  public var records: [String: Int]
  public var unresolvedFailures: Int
  public var schedules: [Job]
  /// The newest dead-lettered jobs (`finishedAt` in ISO 8601).
  public var deadJobs: [DeadJob]

  /// At most this many dead-lettered jobs are listed.
  public static let deadListed = 20

  /// From a running host: its connectors as loaded, and the store.
  public static func collect(_ host: ConnectorHost) async throws -> HostStatus {
    var status = try await collect(store: host.store)
    status.hostRunning = true
    for d in await host.definitions {
      let version = await host.version(of: d.name)
      status.connectors.append(
        Connector(
          name: d.name, version: version?.shortHash ?? "",
          script: version.map { ModulePaths.displayName($0.source.script) } ?? "",
          jobs: d.jobOrder,
          webhooks: d.webhooks.map {
            Webhook(path: "/hooks/\(d.name)/\($0.name)", system: $0.system.rawValue, topic: $0.topic, job: $0.job)
          },
          reloadFailure: await host.reloadFailure(of: d.name).map {
            Failure(error: $0.error, at: iso($0.at) ?? "", running: $0.running)
          }))
    }
    return status
  }

  /// From the store alone, when no host runs.
  public static func collect(store: any JobStore) async throws -> HostStatus {
    let stats = try await store.stats()
    let jobs = try await store.jobSummaries().map {
      Job(
        connector: $0.connector, job: $0.job, schedule: $0.schedule, nextRun: $0.nextRun.flatMap(iso),
        lastRun: $0.lastRun.flatMap(iso), lastState: $0.lastState, lastError: $0.lastError,
        lastErrorKind: $0.lastErrorKind, queued: $0.queued, running: $0.running, dead: $0.dead)
    }
    let dead = try await store.deadJobs(connector: nil, limit: deadListed)
    return HostStatus(
      hostRunning: false, connectors: [], jobs: stats.jobsByState, records: stats.recordsByOutcome,
      unresolvedFailures: stats.unresolvedFailures, schedules: jobs, deadJobs: dead)
  }

  /// ISO 8601 in UTC, or nil for a time that is not one (a schedule that never fires again).
  public static func iso(_ t: Double) -> String? {
    guard t.isFinite else { return nil }
    return try? Timestamp.format(t)
  }
}
