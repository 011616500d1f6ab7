import Foundation
import Hummingbird
import MLHostCore
import MLHostRuntime
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// The admin API and the operator verbs (`status`, `trigger`, `audit`, `replay`, `creds`) against a running host.
@Suite(.serialized) struct AdminAndCLITests {
  static let script = """
    local c = mlhost.connector { name = "ops" }
    c:handler("order", function(rec, o)
      if not mlhost.store.get("customer:" .. o.email) then rec:reject("no customer " .. o.email) end
      return rec:created("erp", "INV-" .. o.id)
    end)
    c:job("sync", function(job, orders) for _, o in ipairs(orders) do job:record("order", o.id, o) end end)
    c:job("add_customer", function(_, email) mlhost.store.set("customer:" .. email, true) end)
    return c
    """

  @Test func operatorsSeeAndReplayFailures() async throws {
    let c = try TempConnector(script: Self.script)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    let host = try await HostProcess(scripts: [c.script], state: state)
    defer { host.process.kill() }
    let stateArgs = ["--state", state.path]

    // The admin API wants the token, except for /healthz.
    #expect(try await host.admin("GET", "/healthz").0 == 200)
    #expect(try await unauthenticated(host.adminURL + "/metrics") == 401)

    let orders = #"[{"id": 1, "email": "a@x.com"}, {"id": 2, "email": "b@x.com"}]"#
    #expect(try await host.admin("POST", "/trigger/ops/add_customer", body: #""a@x.com""#).0 == 200)
    let trigger = try await MLHostProcess.run(["trigger", "ops", "sync", "--input", orders] + stateArgs)
    #expect(trigger.status == 0, "\(trigger.stderr)")
    #expect(trigger.stdout.contains("queued as job") && trigger.stdout.contains("ops.sync: ok"), "\(trigger.stdout)")
    let store = try host.store()
    #expect(try await eventually { try await store.stats().recordsByOutcome == ["created": 1, "rejected": 1] })

    let audit = try await MLHostProcess.run(["audit", "--failed"] + stateArgs)
    #expect(audit.stdout.contains("order 2 REJECTED — no customer b@x.com"), "\(audit.stdout)")
    let rejected = try #require(try await store.records(RecordFilter(unresolvedFailures: true)).first)
    #expect(audit.stdout.contains("mlhost replay \(rejected.id)"))

    let status = try await MLHostProcess.run(["status"] + stateArgs)
    #expect(status.stdout.contains("connector ops"))
    #expect(status.stdout.contains("needing attention: 1"))

    let (_, metrics) = try await host.admin("GET", "/metrics")
    #expect(metrics.contains("mlhost_records{outcome=\"rejected\"} 1"))
    #expect(metrics.contains("mlhost_job_runs_total{connector=\"ops\",job=\"add_customer\",result=\"succeeded\"} 1"))
    #expect(metrics.contains("mlhost_job_runs_total{connector=\"ops\",job=\"sync\",result=\"succeeded\"} 1"))

    // Fix the cause, replay every failure.
    #expect(
      try await MLHostProcess.run(["trigger", "ops", "add_customer", "--input", #""b@x.com""#] + stateArgs).status == 0)
    try await Task.sleep(nanoseconds: 300_000_000)
    let replay = try await MLHostProcess.run(["replay", "--failed"] + stateArgs)
    #expect(replay.status == 0, "\(replay.stderr)")
    #expect(try await eventually { try await store.stats().unresolvedFailures == 0 })
    #expect(
      try await MLHostProcess.run(["audit", "--failed"] + stateArgs).stdout.contains("no records need attention"))

    // Unknown jobs are refused clearly, without a usage dump.
    let bad = try await MLHostProcess.run(["trigger", "ops", "nope"] + stateArgs)
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("has no job 'nope'"))
    #expect(!bad.stderr.contains("USAGE"))
    // An input that is not JSON is refused at the door, by the CLI and by the admin API, and nothing is queued.
    let jobsBefore = try await store.stats().jobsByState
    let notJSON = try await MLHostProcess.run(["trigger", "ops", "sync", "--input", "not json"] + stateArgs)
    #expect(notJSON.status != 0)
    #expect(notJSON.stderr.contains("--input is not JSON"), "\(notJSON.stderr)")
    let (refused, refusal) = try await host.admin("POST", "/trigger/ops/sync", body: "{\"id\": 1,")
    #expect(refused == 400)
    #expect(refusal.contains("not JSON"))
    #expect(try await store.stats().jobsByState == jobsBefore)
    #expect(await host.stop() == 0)
  }

  @Test func credentialsAreEncryptedAndNeverPrinted() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-creds-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let canary = "canary-\(UUID().uuidString)"
    let set = try await MLHostProcess.run([
      "creds", "set", "shop", "--type", "webhook_secret", "--field", "secret=\(canary)", "--state", dir.path,
    ])
    #expect(set.status == 0, "\(set.stderr)")
    let vault = try String(contentsOf: dir.appendingPathComponent("credentials.json"), encoding: .utf8)
    #expect(!vault.contains(canary), "the vault holds the secret in plain text")
    let mode =
      try FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent("master.key").path)[.posixPermissions]
      as? Int
    #expect(mode == 0o600)
    let list = try await MLHostProcess.run(["creds", "list", "--state", dir.path])
    #expect(list.stdout.contains("shop  webhook_secret"))
    #expect(!list.stdout.contains(canary))
    let keyFile = dir.appendingPathComponent("master.key")
    let oldKey = try String(contentsOf: keyFile, encoding: .utf8)
    // Where the new key cannot be written first, nothing is re-encrypted under it.
    let staged = dir.appendingPathComponent("master.key.new")
    try FileManager.default.createDirectory(at: staged, withIntermediateDirectories: false)
    let blocked = try await MLHostProcess.run(["creds", "rotate", "--state", dir.path])
    #expect(blocked.status != 0)
    #expect(blocked.stderr.contains("the vault is unchanged"))
    #expect(try String(contentsOf: keyFile, encoding: .utf8) == oldKey)
    #expect(try CredentialVault(directory: dir).get("shop")?.fields["secret"] == canary)
    try FileManager.default.removeItem(at: staged)
    #expect(try await MLHostProcess.run(["creds", "rotate", "--state", dir.path]).status == 0)
    #expect(try String(contentsOf: keyFile, encoding: .utf8) != oldKey)
    #expect(!FileManager.default.fileExists(atPath: staged.path))
    #expect(try CredentialVault(directory: dir).get("shop")?.fields["secret"] == canary)
    let missing = try await MLHostProcess.run([
      "creds", "set", "x", "--type", "basic", "--field", "user=u", "--state", dir.path,
    ])
    #expect(missing.status != 0)
    #expect(missing.stderr.contains("--field password=..."))
    #expect(try await MLHostProcess.run(["creds", "rm", "shop", "--state", dir.path]).status == 0)
  }

  @Test func credentialOriginsAreSetListedRefusedWhenEditedAndRebound() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-origins-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let state = ["--state", dir.path]
    let set = try await MLHostProcess.run(
      [
        "creds", "set", "x3", "--type", "basic", "--field", "user=svc", "--field", "password=pw-origins",
        "--origin", "https://X3.example.com:8124/", "--origin", "https://x3.example.com",
      ] + state)
    #expect(set.status == 0, "\(set.stderr)")
    #expect(
      try CredentialVault(directory: dir).get("x3")?.origins == [
        "https://x3.example.com:8124", "https://x3.example.com:443",
      ])
    let list = try await MLHostProcess.run(["creds", "list"] + state)
    #expect(
      list.stdout.contains("x3  basic  origins: https://x3.example.com:8124 https://x3.example.com:443"),
      "\(list.stdout)")
    let bad = try await MLHostProcess.run(
      [
        "creds", "set", "y", "--type", "basic", "--field", "user=u", "--field", "password=p",
        "--origin", "https://y.example.com/api?x=1",
      ] + state)
    #expect(bad.status != 0)
    #expect(bad.stderr.contains("is not an origin"))
    // Origins are sealed with the secret: widening them by editing the vault file makes the credential unusable.
    let file = dir.appendingPathComponent("credentials.json")
    let original = try String(contentsOf: file, encoding: .utf8)
    let widened = original.replacingOccurrences(of: "x3.example.com:443", with: "evil.example.com:443")
    #expect(widened != original)
    try widened.write(to: file, atomically: true, encoding: .utf8)
    #expect(#expect(throws: HostError.self) { try CredentialVault(directory: dir).get("x3") }?.kind == .setup)
    try original.write(to: file, atomically: true, encoding: .utf8)
    // Rebinding keeps the secret; origins also come on standard input.
    let rebind = try await MLHostProcess.run(
      ["creds", "set", "x3", "--type", "basic", "--origin", "https://x3.internal:8124"] + state)
    #expect(rebind.status == 0, "\(rebind.stderr)")
    let rebound = try CredentialVault(directory: dir).get("x3")
    #expect(rebound?.origins == ["https://x3.internal:8124"])
    #expect(rebound?.fields["password"] == "pw-origins")
    let stdin = dir.appendingPathComponent("fields.json")
    try #"{"access_token": "tok-origins", "origins": ["https://shop.example.com"]}"#.write(
      to: stdin, atomically: true, encoding: .utf8)
    let piped = try await MLHostProcess.run(
      ["creds", "set", "shop", "--type", "shopify_token", "--from-stdin"] + state,
      stdin: stdin)
    #expect(piped.status == 0, "\(piped.stderr)")
    #expect(try CredentialVault(directory: dir).get("shop")?.origins == ["https://shop.example.com:443"])
    let unbound = try await MLHostProcess.run(
      ["creds", "set", "z", "--type", "shopify_token", "--field", "access_token=t-z"] + state)
    #expect(unbound.stdout.contains("z is bound to no origin"))
  }

  @Test func webhooksOverHTTPS() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "tls" }
        c:on_webhook("shopify", "orders/create", function() end)
        return c
        """)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    let cert = c.directory.appendingPathComponent("cert.pem").path
    let key = c.directory.appendingPathComponent("key.pem").path
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    openssl.arguments = [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
    ]
    openssl.standardError = FileHandle.nullDevice
    try MLHostProcess.spawn(openssl)
    openssl.waitUntilExit()
    try CredentialVault(directory: state).set(
      Credential(name: "tls.shopify", type: .webhook_secret, fields: ["secret": "hush-current"]))
    let host = try await HostProcess(scripts: [c.script], state: state, extra: ["--tls-cert", cert, "--tls-key", key])
    defer { host.process.kill() }
    #expect(host.webhookURL.hasPrefix("https://"))
    let body = #"{"id": 7}"#
    let curl = Process()
    curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    curl.arguments = [
      "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", cert, "-X", "POST",
      "-H", "X-Shopify-Hmac-Sha256: \(shopifySignature(Array(body.utf8), secret: "hush-current"))",
      "-H", "X-Shopify-Webhook-Id: t1", "--data-binary", body, host.webhookURL + "/hooks/tls/orders_create",
    ]
    let out = Pipe()
    curl.standardOutput = out
    try MLHostProcess.spawn(curl)
    curl.waitUntilExit()
    #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "200")
    #expect(try await eventually { try await host.store().stats().jobsByState == ["succeeded": 1] })
    // Outbound: a system with its own CA bundle trusts this server; without it, TLS verification refuses it.
    let tls = try await evalLua(
      """
      local trusted = mlhost.http.system { name = "onprem", base_url = input.url, ca_bundle = input.ca }
      local plain = mlhost.http.system { name = "default", base_url = input.url }
      local ok = mlhost.http.request { system = trusted, path = "/hooks/tls/orders_create" }
      local refused, token = mlhost.http.request { system = plain, path = "/hooks/tls/orders_create" }
      return { ok.status, refused == nil, token }
      """, input: ["url": .text(host.webhookURL), "ca": .text(cert)])
    #expect(tls == [405, true, "tls"])
    #expect(await host.stop() == 0)
  }

  func unauthenticated(_ url: String) async throws -> Int {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", url]
    let out = Pipe()
    p.standardOutput = out
    try MLHostProcess.spawn(p)
    p.waitUntilExit()
    return Int(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)) ?? 0
  }
}

@Suite struct OneShotRunTests {
  @Test func aOneShotRunListensOnNoPortAndStopsOnSIGINTDuringItsCycle() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "sleepy" }
        c:every("1h", "nap", function() mlhost.log.info("nap started"); mlhost.sleep(60) end)
        return c
        """)
    defer { c.remove() }
    // Other servers hold the ports it would serve on: a one-shot run does not need them.
    let taken = (try await LocalServer.start(Router()), try await LocalServer.start(Router()))
    defer {
      taken.0.stop()
      taken.1.stop()
    }
    let p = try MLHostProcess.start([
      "run", c.script.path, "--once", "--grace", "1", "--state", c.directory.appendingPathComponent("state").path,
      "--webhook-port", "\(taken.0.port)", "--admin-port", "\(taken.1.port)",
    ])
    defer { p.kill() }
    #expect(await p.waitForOutput("nap started", within: 10))
    #expect(!p.output.contains("listening"))
    p.signal(SIGINT)
    #expect(await p.wait(within: 10) == 0, "\(p.output)")
    #expect(p.output.contains("sleepy.nap: failed: interrupted"), "\(p.output)")
    #expect(p.output.contains("go back to the queue"))
  }

  @Test func theReplayCommandASummaryPrintsRunsAsPrintedWithoutARunningHost() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "books", settings = { open = { type = "boolean", default = false } } }
        c:handler("invoice", function(rec)
          if not c.settings.open then rec:reject("the period is closed") end
          return rec:created("erp", "INV-" .. rec.key)
        end)
        c:every("1h", "sync", function(job) job:record("invoice", "A1", {}) end)
        c:job("one", function(job, input) job:record("invoice", input.key, input) end)
        return c
        """, settings: "open = false\n")
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state").path
    let first = try await MLHostProcess.run(["run", c.script.path, "--once", "--state", state])
    #expect(first.status == 0)
    let hint = try #require(first.stdout.split(separator: "\n").first { $0.contains("→ ") }, "\(first.stdout)")
    let command = hint.split(separator: "→ ")[1].split(separator: " ").map(String.init)
    // Runnable as printed: this binary (not on the PATH here), the record, the state folder.
    #expect(
      URL(fileURLWithPath: command[0]).resolvingSymlinksInPath() == MLHostProcess.binary.resolvingSymlinksInPath())
    #expect(command[1] == "replay" && command.suffix(2) == ["--state", state])

    // The cause is fixed in the settings, and the printed command replays the record in-process.
    try "open = true\n".write(to: c.settings!, atomically: true, encoding: .utf8)
    let replay = try await MLHostProcess.run(Array(command.dropFirst()))
    #expect(replay.status == 0, "\(replay.stderr)")
    #expect(
      replay.stdout.contains("no host runs on \(state): replaying 1 record(s) in this process"), "\(replay.stdout)")
    #expect(replay.stdout.contains("invoice A1: created erp INV-A1"), "\(replay.stdout)")
    let status = try await MLHostProcess.run(["status", "--state", state])
    #expect(status.stdout.contains("needing attention: 0"), "\(status.stdout)")

    // trigger runs a job the same way and prints how it ended and what it wrote.
    let trigger = try await MLHostProcess.run([
      "trigger", "books", "one", "--input", #"{"key": "B2"}"#, "--state", state,
    ])
    #expect(trigger.status == 0, "\(trigger.stderr)")
    #expect(trigger.stdout.contains("books.one: ok"), "\(trigger.stdout)")
    #expect(trigger.stdout.contains("invoice B2: created erp INV-B2"), "\(trigger.stdout)")
  }
}
