import ArgumentParser
import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostVM

/// Options shared by the verbs that load connector scripts.
struct ScriptOptions: ParsableArguments {
  @Argument(help: "Connector scripts (.lua).")
  var scripts: [String]

  @Option(
    name: .customLong("config"),
    help:
      "Settings file (TOML) for each script, in order; default: <name>.toml beside the script, else <name>/settings.toml, else <name>/settings.example.toml in its package folder."
  )
  var configs: [String] = []

  @Option(help: "Folder of the stdlib Lua modules; default: $MLHOST_STDLIB, or the nearest stdlib/ above the script.")
  var stdlib: String?

  @Option(help: "Memory limit of each connector's VM, in MiB.")
  var memoryMB = 256

  @Option(help: "Instruction budget of one job (memory it allocates is charged too, one instruction per 8 bytes).")
  var jobInstructions: Int64 = 2_000_000_000

  @Option(help: "CPU seconds one job may use inside Lua (time spent waiting on I/O or sleeping does not count).")
  var jobSeconds: Double = 120

  @Option(
    name: .customLong("set"),
    help: "Override one setting of every script: dotted.path=value (true/false and integers are typed).")
  var overrides: [String] = []

  func validate() throws {
    guard !scripts.isEmpty else { throw ValidationError("name at least one connector script") }
    guard configs.count <= scripts.count else { throw ValidationError("more --config files than scripts") }
    for o in overrides where !o.contains("=") { throw ValidationError("--set \(o): dotted.path=value expected") }
    guard (1...65_536).contains(memoryMB) else { throw ValidationError("--memory-mb: from 1 to 65536 expected") }
    guard jobInstructions >= 1_000_000 else { throw ValidationError("--job-instructions: at least 1000000 expected") }
    guard jobSeconds.isFinite, (0.1...86_400).contains(jobSeconds) else {
      throw ValidationError("--job-seconds: from 0.1 to 86400 expected")
    }
  }

  /// `--set` values, typed as TOML would type them.
  var settingOverrides: [String: LuaValue] {
    var out: [String: LuaValue] = [:]
    for o in overrides {
      let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
      let value = parts.count > 1 ? parts[1] : ""
      if let i = Int64(value) {
        out[parts[0]] = .integer(i)
      } else if value == "true" || value == "false" {
        out[parts[0]] = .boolean(value == "true")
      } else {
        out[parts[0]] = .text(value)
      }
    }
    return out
  }

  func sources(extra: [String: LuaValue] = [:]) throws -> [ConnectorSource] {
    try scripts.enumerated().map { i, path in
      let script = URL(fileURLWithPath: path).standardizedFileURL
      guard FileManager.default.fileExists(atPath: script.path) else {
        throw HostError(.input, "\(path): the file does not exist")
      }
      var settings: URL?
      if i < configs.count {
        settings = URL(fileURLWithPath: configs[i])
      } else {
        settings = ConnectorPackage(script: script).defaultSettingsFile
      }
      var source = ConnectorSource(
        script: script, settingsFile: settings, stdlib: stdlibDirectory(near: script),
        limits: VMLimits(memoryBytes: memoryMB << 20, jobInstructions: jobInstructions, jobSeconds: jobSeconds))
      source.systemSettings = extra
      source.overrides = settingOverrides
      return source
    }
  }

  private func stdlibDirectory(near script: URL) -> URL? {
    if let s = stdlib ?? ProcessInfo.processInfo.environment["MLHOST_STDLIB"] { return URL(fileURLWithPath: s) }
    var dir = script.deletingLastPathComponent()
    while dir.path != "/" {
      let candidate = dir.appendingPathComponent("stdlib")
      var isDir: ObjCBool = false
      if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), isDir.boolValue {
        return candidate
      }
      dir.deleteLastPathComponent()
    }
    return nil
  }
}

struct LogOptions: ParsableArguments {
  @Option(help: "Log format: text or json.")
  var logFormat: LineLogHandler.Format = .text

  @Option(help: "Lowest level logged: trace, debug, info, notice, warning, error, critical.")
  var logLevel: Logger.Level = .info

  func makeLogger() -> Logger {
    let format = logFormat
    let level = logLevel
    var logger = Logger(label: "mlhost") { label in
      var h = LineLogHandler(label: label, format: format)
      h.logLevel = level
      return h
    }
    logger.logLevel = level
    return logger
  }
}

extension LineLogHandler.Format: ExpressibleByArgument {}
extension Logger.Level: @retroactive ExpressibleByArgument {}
