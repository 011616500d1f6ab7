import Foundation

/// What `mlhost status` and `GET /status` report.
public struct HostStatus: Codable, Sendable {
  public struct Connector: Codable, Sendable {
    public var name: String
    public var version: String
    public var jobs: [String]
    public var webhooks: [String]
  }

  public var connectors: [Connector]
  public var jobs: [String: Int]
  public var records: [String: Int]
  public var unresolvedFailures: Int

  public init(connectors: [Connector], jobs: [String: Int], records: [String: Int], unresolvedFailures: Int) {
    self.connectors = connectors
    self.jobs = jobs
    self.records = records
    self.unresolvedFailures = unresolvedFailures
  }

  public static func collect(_ host: ConnectorHost) async throws -> HostStatus {
    let stats = try await host.store.stats()
    var connectors: [Connector] = []
    for d in await host.definitions {
      let version = await host.version(of: d.name)?.shortHash ?? ""
      connectors.append(Connector(
        name: d.name, version: version,
        jobs: d.jobOrder.map { name in d.jobs[name]?.schedule.map { "\(name) (\($0))" } ?? name },
        webhooks: d.webhooks.map { "POST /hooks/\(d.name)/\($0.name) (\($0.system.rawValue) \($0.topic))" }))
    }
    return HostStatus(
      connectors: connectors, jobs: stats.jobsByState, records: stats.recordsByOutcome,
      unresolvedFailures: stats.unresolvedFailures)
  }
}
