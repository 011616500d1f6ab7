import ArgumentParser
import Foundation
import Logging
import MLHostRuntime
import MLHostVM

struct CheckCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Loads connectors and validates their settings without contacting any system.",
    discussion: "Exit status 0 when every script loads; otherwise 1, with `path:line: message` on standard error.")

  @OptionGroup var scripts: ScriptOptions
  @OptionGroup var state: StateOptions

  func run() async throws {
    var logger = Logger(label: "mlhost.check") { _ in SwiftLogNoOpLogHandler() }
    logger.logLevel = .critical
    var failed = false
    let stored = try storedCredentials()
    for source in try scripts.sources() {
      do {
        let version = try await ConnectorVersion.load(source, logger: logger)
        let d = version.definition
        print("\(ModulePaths.displayName(source.script)): ok — connector \(d.name), version \(version.shortHash)")
        for name in d.jobOrder {
          let schedule = d.jobs[name]?.schedule.map { " (\($0))" } ?? ""
          print("  job \(name)\(schedule)")
        }
        for w in d.webhooks { print("  webhook \(w.system.rawValue) \(w.topic) → job \(w.job)") }
        for c in d.credentials where !stored.contains(c.name) {
          FileHandle.standardError.write(
            Data(
              "warning: \(c.location)\(c.path): credential '\(c.name)' is not in the vault in \(state.state) (store it with `mlhost creds set \(c.name) --type ... --state \(state.state)`)\n"
                .utf8))
        }
        await version.retire(grace: 0)
      } catch {
        failed = true
        FileHandle.standardError.write(Data("\(error)\n".utf8))
      }
    }
    if failed { throw ExitCode(1) }
  }

  /// The names in the state folder's vault; none when it has no vault (nothing is created by looking).
  private func storedCredentials() throws -> Set<String> {
    guard FileManager.default.fileExists(atPath: state.directory.appendingPathComponent("credentials.json").path) else {
      return []
    }
    return Set(try state.vault().list().map(\.name))
  }
}
