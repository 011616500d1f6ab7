import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostStore
import MLHostSystems
import MLHostVM

public typealias LuaValueLiteral = LuaValue

/// A throwaway folder with a connector script (and optional settings and modules), for tests.
public struct TempConnector: Sendable {
  public let directory: URL
  public let script: URL
  public var settings: URL?

  /// Writes `script` as `connector.lua` (and `settings` as `connector.toml`) in a new temporary folder.
  public init(script: String, settings: String? = nil, modules: [String: String] = [:]) throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    self.script = directory.appendingPathComponent("connector.lua")
    try script.write(to: self.script, atomically: true, encoding: .utf8)
    if let settings {
      let url = directory.appendingPathComponent("connector.toml")
      try settings.write(to: url, atomically: true, encoding: .utf8)
      self.settings = url
    }
    for (path, text) in modules {
      let url = directory.appendingPathComponent(path)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try text.write(to: url, atomically: true, encoding: .utf8)
    }
  }

  public func source(limits: VMLimits = VMLimits()) -> ConnectorSource {
    ConnectorSource(script: script, settingsFile: settings, stdlib: Repository.stdlib, limits: limits)
  }

  public func load(limits: VMLimits = VMLimits()) async throws -> ConnectorVersion {
    try await ConnectorVersion.load(source(limits: limits), logger: Logger.quiet)
  }

  /// A host over this connector with a store in the connector's folder, started.
  public func host(
    options: HostOptions = HostOptions(grace: 5, watch: false), logger: Logger = .quiet,
    authenticator: Authenticator? = nil
  ) async throws -> ConnectorHost {
    let store = try SQLiteStore(directory: directory.appendingPathComponent("state"))
    let host = ConnectorHost(store: store, logger: logger, options: options, authenticator: authenticator)
    try await host.start([source()])
    return host
  }

  /// Replaces the script's text (atomically, as editors do).
  public func rewrite(_ text: String) throws { try text.write(to: script, atomically: true, encoding: .utf8) }

  public func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Paths inside this repository, found from the test source location.
public enum Repository {
  public static let root: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
      url.deleteLastPathComponent()
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
  }()
  public static let stdlib = root.appendingPathComponent("stdlib")
}

extension Logger {
  /// A logger that drops everything, for tests that do not read logs.
  public static let quiet: Logger = {
    var l = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    l.logLevel = .critical
    return l
  }()
}

/// Wraps a Lua job body in a minimal connector script.
public func connectorScript(_ jobBody: String, name: String = "t", preamble: String = "") -> String {
  """
  \(preamble)
  local c = mlhost.connector { name = "\(name)" }
  c:job("main", function(job, input)
  \(jobBody)
  end)
  return c
  """
}

/// Runs `body` as the job of a throwaway connector and returns how it ended.
public func runJob(_ body: String, input: LuaValueLiteral = nil, limits: VMLimits = VMLimits(), preamble: String = "")
  async throws -> JobOutcome
{
  let c = try TempConnector(script: connectorScript(body, preamble: preamble))
  defer { c.remove() }
  let version = try await c.load(limits: limits)
  let outcome = await version.run(job: "main", input: input)
  await version.retire(grace: 0)
  return outcome
}

/// Runs `body` and returns its first result, failing with the Lua error otherwise.
public func evalLua(_ body: String, input: LuaValueLiteral = nil, preamble: String = "") async throws -> LuaValueLiteral
{
  switch try await runJob(body, input: input, preamble: preamble) {
  case .succeeded(let values): return values.first ?? .nil_
  case .failed(let e): throw e
  }
}

/// Polls `condition` every 10 ms until it holds or `seconds` pass; returns whether it held.
public func eventually(within seconds: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try await condition() { return true }
    try? await Task.sleep(nanoseconds: 10_000_000)
  }
  return try await condition()
}

/// A logger whose lines tests can read.
public func capturingLogger() -> (Logger, LogSink) {
  let sink = LogSink(capture: true)
  var logger = Logger(label: "test") { LineLogHandler(label: $0, format: .text, sink: sink) }
  logger.logLevel = .debug
  return (logger, sink)
}
