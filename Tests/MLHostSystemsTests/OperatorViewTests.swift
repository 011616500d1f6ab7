import Foundation
import MLHostCore
import MLHostRuntime
import MLHostTesting
import Testing

/// What the running host tells its operator (issue #12, items 12–15), read from the real binary: log lines, debug
/// logs and metrics, `status` and `audit --json`, reloads of the files a connector reads.
@Suite(.serialized) struct OperatorViewTests {
  static func lines(_ output: String, containing text: String) -> [String] {
    output.split(separator: "\n").map(String.init).filter { $0.contains(text) }
  }

  /// The value of `field=` on a log line (up to the next space).
  static func field(_ name: String, in line: String) -> String? {
    guard let r = line.range(of: " \(name)=") else { return nil }
    return String(line[r.upperBound...].prefix { $0 != " " })
  }

  // MARK: item 12

  static let logScript = """
    local c = mlhost.connector { name = "ops" }
    c:handler("order", function(rec, o)
      mlhost.log.info("handling", { run = "mine", order = o.id })
      return rec:created("erp", "INV-" .. o.id)
    end)
    c:job("sync", function(job, orders)
      for _, o in ipairs(orders) do
        job:record("order", o.id, o)
      end
    end)
    c:job("flaky", function()
      error({ kind = "unavailable", retryable = true, message = "the ERP is down", retry_after = 600 })
    end)
    c:job("broken", function()
      local t = nil
      return t.field
    end)
    return c
    """

  @Test func logLinesAreShortAndNameTheConnectorsLine() async throws {
    let c = try TempConnector(script: Self.logScript)
    defer { c.remove() }
    let host = try await HostProcess(scripts: [c.script], state: c.directory.appendingPathComponent("state"))
    defer { host.process.kill() }
    #expect(try await host.admin("POST", "/trigger/ops/sync", body: #"[{"id": 1}]"#).0 == 200)
    #expect(try await host.admin("POST", "/trigger/ops/flaky").0 == 200)
    #expect(try await host.admin("POST", "/trigger/ops/broken").0 == 200)
    #expect(await host.process.waitForOutput("record created", within: 20))
    #expect(await host.process.waitForOutput("job will be retried", within: 20))
    #expect(await host.process.waitForOutput("job dead-lettered", within: 20))
    #expect(await host.stop() == 0)
    let out = host.process.output

    // The record line points at the connector's own line (job:record), never at the host's job.lua.
    let record = try #require(Self.lines(out, containing: "record created").first)
    let at = try #require(Self.field("at", in: record))
    #expect(at.hasSuffix("connector.lua:8"), "\(record)")
    #expect(!out.contains("at==") && !out.contains("mlhost.job:"), "\(out)")
    // A script's field is kept beside the host's, and the run id is short.
    let handling = try #require(Self.lines(out, containing: "handling").first)
    #expect(Self.field("lua.run", in: handling) == "mine", "\(handling)")
    #expect(Self.field("at", in: handling)?.hasSuffix("connector.lua:3") == true, "\(handling)")
    for line in Self.lines(out, containing: " run=") {
      let run = try #require(Self.field("run", in: line))
      #expect(run.count == 8 && run.allSatisfy(\.isHexDigit), "\(line)")
    }
    // The script's path is named once, on the line that loads it.
    let naming = Self.lines(out, containing: "script=")
    #expect(naming.count == 1 && naming[0].contains("loaded connector"), "\(naming)")
    // An expected failure is a WARNING without a traceback; a mistake in the script is an ERROR with one.
    let all = out.split(separator: "\n").map(String.init)
    let flaky = try #require(all.firstIndex { $0.contains("job failed:") && $0.contains("the ERP is down") })
    #expect(all[flaky].contains(" WARNING "), "\(all[flaky])")
    #expect(!all[flaky + 1].contains("stack traceback"), "\(all[flaky + 1])")
    let broken = try #require(all.firstIndex { $0.contains("job failed:") && $0.contains("attempt to index") })
    #expect(all[broken].contains(" ERROR "), "\(all[broken])")
    #expect(all[broken + 1].contains("stack traceback"), "\(all[broken + 1])")
    // Short lines: nothing but tracebacks runs past 240 characters.
    let long = all.filter { $0.count > 240 && !$0.hasPrefix("\t") && !$0.hasPrefix("stack traceback") }
    #expect(long.isEmpty, "\(long)")
  }

  // MARK: item 13

  @Test func debugLogsEveryRequestAndMetricsCountThem() async throws {
    let s = SystemServer()
    let server = try await LocalServer.start(s.router())
    defer { server.stop() }
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "ops", settings = { erp = { type = "url", required = true } } }
        local sys = mlhost.http.system { name = "erp", base_url = c.settings.erp, retries = 3 }
        c:job("pull", function()
          mlhost.http.request { system = sys, path = "/flaky?key=a&fail=1&status=503&api_key=hunter2-not-for-logs" }
          mlhost.http.request { system = sys, path = "/retry-after" }
        end)
        return c
        """,
      settings: "erp = \"\(server.url)\"\n")
    defer { c.remove() }
    let host = try await HostProcess(
      scripts: [c.script], state: c.directory.appendingPathComponent("state"), extra: ["--log-level", "debug"])
    defer { host.process.kill() }
    #expect(try await host.admin("POST", "/trigger/ops/pull").0 == 200)
    #expect(await host.process.waitForOutput("job finished", within: 30), "\(host.process.output)")

    let out = host.process.output
    #expect(out.contains("job started"))
    let requests = Self.lines(out, containing: "http request")
    #expect(requests.count == 4, "\(requests)")
    let first = try #require(requests.first)
    #expect(Self.field("method", in: first) == "GET")
    #expect(Self.field("system", in: first) == "erp")
    #expect(Self.field("status", in: first) == "503")
    #expect(Self.field("attempt", in: first) == "1")
    #expect(Self.field("retry", in: first) == "503")
    #expect(Self.field("ms", in: first) != nil)
    #expect(Self.field("url", in: first)?.contains("api_key=***") == true, "\(first)")
    #expect(!out.contains("hunter2-not-for-logs"))
    #expect(
      requests.contains { Self.field("retry", in: $0) == "throttled" && $0.contains("throttled=true") }, "\(requests)")

    let (code, metrics) = try await host.admin("GET", "/metrics")
    #expect(code == 200)
    for series in [
      #"mlhost_http_requests_total{connector="ops",system="erp",class="2xx"} 2"#,
      #"mlhost_http_requests_total{connector="ops",system="erp",class="4xx"} 1"#,
      #"mlhost_http_requests_total{connector="ops",system="erp",class="5xx"} 1"#,
      #"mlhost_http_retries_total{connector="ops",system="erp",reason="503"} 1"#,
      #"mlhost_http_retries_total{connector="ops",system="erp",reason="throttled"} 1"#,
      #"mlhost_http_throttled_total{connector="ops",system="erp"} 1"#,
      #"mlhost_http_request_seconds_count{system="erp",class="2xx"} 2"#,
      #"mlhost_job_runs_total{connector="ops",job="pull",result="succeeded"} 1"#,
      #"mlhost_job_seconds_count{connector="ops",job="pull"} 1"#,
    ] {
      #expect(metrics.contains(series), "missing \(series) in\n\(metrics)")
    }

    // A reload check is logged at debug too.
    try c.rewrite(try String(contentsOf: c.script, encoding: .utf8) + "-- edited\n")
    #expect(await host.process.waitForOutput("reload check", within: 20), "\(host.process.output)")
    #expect(await host.stop() == 0)
  }

  // MARK: item 14

  static let statusScript = """
    local c = mlhost.connector { name = "ops" }
    c:handler("order", function(rec, o)
      return rec:created("erp", "INV-" .. o.id, { gl = "4000", amount = "12.50" })
    end)
    c:every("1h", "tick", function() end)
    c:job("sync", function(job, orders) for _, o in ipairs(orders) do job:record("order", o.id, o) end end)
    c:job("doomed", function() error({ retryable = false, message = "the ERP refused the batch" }) end)
    return c
    """

  @Test func statusShowsSchedulesErrorsDeadJobsAndAFailedReload() async throws {
    let c = try TempConnector(script: Self.statusScript)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    let stateArgs = ["--state", state.path]
    let host = try await HostProcess(scripts: [c.script], state: state)
    defer { host.process.kill() }
    #expect(try await host.admin("POST", "/trigger/ops/sync", body: #"[{"id": 7, "total": 12.50}]"#).0 == 200)
    #expect(try await host.admin("POST", "/trigger/ops/doomed").0 == 200)
    #expect(await host.process.waitForOutput("job dead-lettered", within: 20))
    #expect(await host.process.waitForOutput("record created", within: 20))

    // A broken edit: the old version goes on, and the host says so until the file loads again.
    try c.rewrite("local c = mlhost.connector { name = \"ops\" \n return c\n")
    #expect(await host.process.waitForOutput("reload failed", within: 20))
    let (code, body) = try await host.admin("GET", "/status")
    #expect(code == 200)
    let live = try JSONDecoder().decode(HostStatus.self, from: Data(body.utf8))
    #expect(live.hostRunning)
    let connector = try #require(live.connectors.first)
    #expect(connector.jobs == ["tick", "sync", "doomed"])
    let failure = try #require(connector.reloadFailure, "\(body)")
    #expect(failure.error.contains("connector.lua:"), "\(failure.error)")
    #expect(failure.running == connector.version)
    let tick = try #require(live.schedules.first { $0.job == "tick" })
    #expect(tick.schedule != nil)
    #expect(try Timestamp.parse(try #require(tick.nextRun)) > Date().timeIntervalSince1970 + 3000)
    #expect(tick.lastState == "succeeded")
    let doomed = try #require(live.schedules.first { $0.job == "doomed" })
    #expect(doomed.lastError?.contains("the ERP refused the batch") == true)
    #expect(doomed.dead == 1)
    #expect(live.deadJobs.first?.error?.contains("the ERP refused the batch") == true)
    let text = try await MLHostProcess.run(["status"] + stateArgs)
    #expect(text.stdout.contains("RELOAD FAILED"), "\(text.stdout)")
    #expect(text.stdout.contains("dead-lettered jobs"), "\(text.stdout)")

    try c.rewrite(Self.statusScript)
    #expect(
      try await eventually(within: 20) {
        let (_, b) = try await host.admin("GET", "/status")
        return try JSONDecoder().decode(HostStatus.self, from: Data(b.utf8)).connectors.first?.reloadFailure == nil
      })
    #expect(await host.stop() == 0)

    // Without a host: the same facts from the store.
    let offline = try await MLHostProcess.run(["status"] + stateArgs)
    #expect(offline.status == 0, "\(offline.stderr)")
    #expect(offline.stdout.contains("no host running"))
    #expect(offline.stdout.contains("job ops.tick ("), "\(offline.stdout)")
    #expect(offline.stdout.contains("next "), "\(offline.stdout)")
    #expect(offline.stdout.contains("last error: "), "\(offline.stdout)")
    #expect(offline.stdout.contains("ops.doomed [manual] after 1 attempt(s): "), "\(offline.stdout)")
    let json = try await MLHostProcess.run(["status", "--json"] + stateArgs)
    let stored = try JSONDecoder().decode(HostStatus.self, from: Data(json.stdout.utf8))
    #expect(!stored.hostRunning)
    #expect(stored.deadJobs.count == 1)
    #expect(stored.deadJobs.first?.finishedAt != nil)
    #expect(json.stdout.contains(#""finishedAt":"20"#), "\(json.stdout)")
    #expect(!json.stdout.contains("(every"), "display strings in \(json.stdout)")
    #expect(stored.schedules.contains { $0.job == "tick" && $0.nextRun != nil })

    // audit --json: input and details are JSON, times ISO 8601, the amount exact.
    let audit = try await MLHostProcess.run(["audit", "--json"] + stateArgs)
    let line = try #require(audit.stdout.split(separator: "\n").first.map(String.init), "\(audit.stderr)")
    let row = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    let details = try #require(row["details"] as? [String: Any], "\(line)")
    #expect(details["gl"] as? String == "4000")
    let input = try #require(row["input"] as? [String: Any], "\(line)")
    #expect(input["id"] as? Int == 7)
    #expect(line.contains(#""total":12.50"#) || line.contains(#""total":12.5"#), "\(line)")
    let started = try #require(row["startedAt"] as? String)
    #expect((try? Timestamp.parse(started)) != nil && started.hasSuffix("Z"), "\(started)")
  }

  // MARK: item 15

  @Test func aChangedMappingCSVReloadsTheConnector() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "ops", settings = { skus = { type = "map", values = { type = "string" } } } }
        c:job("show", function() mlhost.log.info("mapped", { item = c.settings.skus.A }) end)
        return c
        """,
      settings: "skus = \"skus.csv\"\n", modules: ["skus.csv": "sku,item\nA,X1\n"])
    defer { c.remove() }
    let host = try await HostProcess(scripts: [c.script], state: c.directory.appendingPathComponent("state"))
    defer { host.process.kill() }
    let csv = c.directory.appendingPathComponent("skus.csv")
    try "sku,item\nA,X2\n".write(to: csv, atomically: true, encoding: .utf8)
    #expect(await host.process.waitForOutput("reloaded connector ops", within: 20), "\(host.process.output)")
    #expect(try await host.admin("POST", "/trigger/ops/show").0 == 200)
    #expect(await host.process.waitForOutput("item=X2", within: 20), "\(host.process.output)")
    // A CSV that does not load leaves the running version alone and says where.
    try "sku,item\nA,X3\nA,X4\n".write(to: csv, atomically: true, encoding: .utf8)
    #expect(await host.process.waitForOutput("reload failed", within: 20))
    #expect(host.process.output.contains("skus.csv:3: key 'A' appears twice"), "\(host.process.output)")
    #expect(await host.stop() == 0)
  }
}
