import Foundation
import MLHostTesting
import Testing

/// The hostile-script corpus (`Tests/Hostile`): every script attacks the host in one way and says, in its
/// `-- expect:` line, how the attack must end. The real binary runs them all beside a healthy connector.
@Suite struct HostileCorpusTests {
  struct Attack {
    let url: URL
    let expect: String
    var name: String { url.deletingPathExtension().lastPathComponent }
  }

  static func corpus(_ folder: String) throws -> [Attack] {
    let dir = Repository.root.appendingPathComponent("Tests/Hostile/\(folder)")
    return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == "lua" }
      .sorted { $0.lastPathComponent < $1.lastPathComponent }
      .map { url in
        let text = try String(contentsOf: url, encoding: .utf8)
        let line = text.split(separator: "\n").first { $0.hasPrefix("-- expect: ") }
        return Attack(url: url, expect: String(line?.dropFirst("-- expect: ".count) ?? ""))
      }
  }

  /// User plus system CPU time of a process, in seconds.
  static func cpuSeconds(pid: Int32) throws -> Double {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
    return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }

  @Test func everyAttackFailsAloneWithItsReasonWhileAHealthyConnectorKeepsItsSchedule() async throws {
    let attacks = try Self.corpus("runtime")
    #expect(attacks.count >= 40)
    let healthy = try TempConnector(
      script: """
        local c = mlhost.connector { name = "healthy" }
        c:every("1s", "tick", function() mlhost.log.info("healthy tick") end)
        return c
        """)
    defer { healthy.remove() }
    let state = healthy.directory.appendingPathComponent("state")
    // The credential the origin attacks try to send elsewhere.
    let stored = try await MLHostProcess.run([
      "creds", "set", "x3", "--type", "basic", "--field", "user=ADMIN", "--field", "password=canary-7f3a9c",
      "--origin", "https://x3.example.com:8124", "--state", state.path,
    ])
    #expect(stored.status == 0, "\(stored.stderr)")
    let host = try MLHostProcess.start(
      ["run"] + attacks.map(\.url.path) + [
        healthy.script.path, "--state", state.path, "--stdlib", Repository.stdlib.path, "--webhook-port", "0",
        "--admin-port", "0", "--memory-mb", "64", "--job-instructions", "20000000", "--job-seconds", "2",
      ])
    defer { host.kill() }

    // The first outcome of each attack's job, from the host's log.
    func outcomes() -> [String: String] {
      var found: [String: String] = [:]
      for line in host.output.split(separator: "\n")
      where line.contains("job failed: ") || line.contains("job finished") {
        for a in attacks where found[a.name] == nil && line.contains("connector=\(a.name) ") {
          found[a.name] = String(line)
        }
      }
      return found
    }
    let deadline = Date().addingTimeInterval(90)
    while outcomes().count < attacks.count && Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
    let found = outcomes()
    for a in attacks {
      guard let line = found[a.name] else {
        Issue.record("\(a.name): no outcome logged")
        continue
      }
      if a.expect == "ok" {
        #expect(line.contains("job finished"), "\(a.name): \(line)")
      } else {
        #expect(line.contains("job failed: "), "\(a.name): \(line)")
        #expect(line.contains(a.expect), "\(a.name) should fail with '\(a.expect)': \(line)")
        #expect(line.contains("\(a.name).lua:"), "\(a.name) should name its script line: \(line)")
      }
    }

    #expect(!host.output.contains("canary-7f3a9c"), "a secret reached the log")
    // A VM left full by what a script keeps in globals is replaced, not left to fail every later job.
    #expect(await host.waitForOutput("memory_kept_in_globals runs on a fresh VM", within: 10))

    // The healthy connector kept its schedule through all of it, and keeps it.
    let ticks = { host.output.components(separatedBy: "healthy tick").count - 1 }
    let before = ticks()
    try await Task.sleep(for: .seconds(3))
    #expect(ticks() >= before + 2, "the healthy connector stopped ticking")
    #expect(await host.wait(within: 0) == nil, "the host died:\n\(host.output.suffix(2000))")

    // Nothing spins: over two seconds the host uses a small part of one core (retries of failed jobs included).
    let cpu = try Self.cpuSeconds(pid: host.pid)
    try await Task.sleep(for: .seconds(2))
    #expect(try Self.cpuSeconds(pid: host.pid) - cpu < 0.5, "the host is still busy after every attack ended")

    // A hot reload to a hostile version is refused and the old version keeps running.
    try healthy.rewrite(
      String(
        contentsOf: Repository.root.appendingPathComponent("Tests/Hostile/load/deep_connector_spec.lua"),
        encoding: .utf8))
    #expect(await host.waitForOutput("nested more than", within: 10))
    let afterReload = ticks()
    try await Task.sleep(for: .seconds(2.5))
    #expect(ticks() >= afterReload + 1, "the old version stopped after a refused reload")

    host.signal(SIGTERM)
    #expect(await host.wait(within: 15) == 0)
  }

  @Test func everyLoadTimeAttackIsRefusedByCheckWithItsReason() async throws {
    let attacks = try Self.corpus("load")
    #expect(attacks.count >= 8)
    for a in attacks {
      let r = try await MLHostProcess.run(["check", a.url.path, "--stdlib", Repository.stdlib.path])
      #expect(r.status == 1, "\(a.name): exit \(r.status)")
      #expect((r.stdout + r.stderr).contains(a.expect), "\(a.name): \(r.stdout)\(r.stderr)")
    }
  }
}
