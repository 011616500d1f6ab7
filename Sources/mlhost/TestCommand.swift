import ArgumentParser
import Foundation
import MLHostCases
import MLHostCore

struct TestCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "test",
    abstract: "Runs a connector's test cases (connectors/<name>/tests/*.toml) against the built-in sandbox systems.",
    discussion: """
      Each case starts simulated Shopify and Sage X3 systems on loopback (port 0) and an empty state of its own, seeds \
      them, runs the host in this process through the case's steps and compares what results with what the case \
      expects. Prints PASS or FAIL per case, with each difference as expected/actual; exit status 1 when a case \
      fails. Settings come from the connector's settings file as with `run`; the sandbox's URLs and credentials, the \
      case's [settings] and then --set go on top.
      """)

  @OptionGroup var scripts: ScriptOptions

  @Option(name: .customLong("case"), help: "Run only the case of this name (its file name without .toml).")
  var only: String?

  @Flag(help: "Print the results as JSON (for CI) instead of text.")
  var json = false

  @Flag(
    help:
      "Print the host's log lines (the connector's own, each record's failures) to standard error while the cases run.")
  var log = false

  @OptionGroup var logOptions: LogOptions

  func run() async throws {
    var report = CaseReport()
    for source in try scripts.sources() {
      let files: [URL]
      do { files = try CaseRunner.cases(of: source.script, only: only) } catch { throw HostError(.input, "\(error)") }
      var runner = CaseRunner(source: source, overrides: scripts.settingOverrides)
      if log { runner.logger = logOptions.makeLogger() }
      for file in files {
        let result = await runner.run(file)
        report.results.append(result)
        if !json { print(CaseReport.text(of: result)) }
      }
    }
    if json {
      print(report.json)
    } else {
      print(report.summary)
    }
    if report.failed > 0 { throw ExitCode(1) }
  }
}
