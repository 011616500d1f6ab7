import ArgumentParser
import MLHostModules

@main
struct MLHostCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mlhost",
    abstract: "Runs Lua connector scripts that keep ERPs and storefronts in sync.",
    version: MLHostVersion.current,
    subcommands: [
      RunCommand.self, CheckCommand.self, StatusCommand.self, TriggerCommand.self, AuditCommand.self,
      ReplayCommand.self, CredsCommand.self, VersionCommand.self, DocsCommand.self, TestCommand.self,
      SandboxCommand.self,
    ])
}

struct VersionCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "version", abstract: "Prints the host's version.")

  func run() {
    print("mlhost \(MLHostVersion.current)")
  }
}
