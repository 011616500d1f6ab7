import Foundation
import Hummingbird
import MLHostRuntime
import MLHostStore
import MLHostTesting
import Testing

/// The state folder and the start of a run, against the real binary: private modes, one host per folder, ports in
/// use, a damaged store, weak admin tokens and plain listeners on the network.
@Suite(.serialized) struct StateFolderTests {
  static let script = """
    local c = mlhost.connector { name = "st" }
    c:job("noop", function() end)
    return c
    """

  static func mode(_ url: URL) throws -> Int {
    try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int)
  }

  @Test func theFolderIsPrivateWhateverTheUmaskAndHeldByOneHost() async throws {
    let c = try TempConnector(script: Self.script)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    let old = umask(0o022)
    defer { umask(old) }
    let set = try await MLHostProcess.run([
      "creds", "set", "erp", "--type", "basic", "--field", "user=u", "--field", "password=p-secret",
      "--origin", "https://erp.example.com", "--state", state.path,
    ])
    #expect(set.status == 0, "\(set.stderr)")
    let unbound = try await MLHostProcess.run(
      ["creds", "set", "old", "--type", "shopify_token", "--field", "access_token=t-old", "--state", state.path])
    #expect(unbound.stdout.contains("old is bound to no origin"))
    let host = try await HostProcess(scripts: [c.script], state: state)
    defer { host.process.kill() }
    #expect(host.process.output.contains("credential old is bound to no origin, so no request will carry it"))
    #expect(try Self.mode(state) == 0o700)
    let files = try FileManager.default.contentsOfDirectory(atPath: state.path)
    for name in [
      "mlhost.sqlite", "mlhost.sqlite-wal", "mlhost.sqlite-shm", "credentials.json", "master.key", "admin.token",
      "admin.json", "host.lock",
    ] {
      #expect(files.contains(name), "\(name) missing")
    }
    for name in files {
      #expect(try Self.mode(state.appendingPathComponent(name)) == 0o600, "\(name) is not 0600")
    }
    // A second host on the folder, sandbox or not, is refused at once, naming the holder, and changes nothing.
    let database = try Data(contentsOf: state.appendingPathComponent("mlhost.sqlite"))
    for extra in [[], ["--sandbox"]] {
      let second = try await MLHostProcess.run(
        ["run", c.script.path, "--state", state.path, "--webhook-port", "0", "--admin-port", "0"] + extra, timeout: 20)
      #expect(second.status != 0)
      #expect(
        second.stderr.contains("another mlhost (pid \(host.process.pid)) is using the state folder"), "\(second.stderr)"
      )
    }
    #expect(try Data(contentsOf: state.appendingPathComponent("mlhost.sqlite")) == database)
    #expect(try await host.admin("GET", "/healthz").0 == 200)
    #expect(await host.stop() == 0)
  }

  /// `--sandbox` clears its default folder at start: only after taking the lock, so a second sandbox run cannot
  /// delete a running one's store.
  @Test func aSecondSandboxRunLeavesTheRunningOnesStateAlone() async throws {
    let database = Repository.root.appendingPathComponent(".mlhost-sandbox/mlhost.sqlite")
    let args = [
      "run", "connectors/x3_shopify.lua", "--sandbox", "--no-watch", "--webhook-port", "0", "--admin-port", "0",
    ]
    let first = try MLHostProcess.start(args)
    defer { first.kill() }
    #expect(await first.waitForOutput("admin API listening", within: 60), "\(first.output)")
    let before = try FileManager.default.attributesOfItem(atPath: database.path)[.systemFileNumber] as? Int
    let second = try await MLHostProcess.run(args, timeout: 30)
    #expect(second.status != 0)
    #expect(second.stderr.contains("another mlhost (pid \(first.pid)) is using the state folder"), "\(second.stderr)")
    let after = try? FileManager.default.attributesOfItem(atPath: database.path)[.systemFileNumber] as? Int
    #expect(after == before, "the second run replaced the first one's store")
    first.signal(SIGTERM)
    #expect(await first.wait(within: 30) == 0)
  }

  @Test(arguments: ["--webhook-port", "--admin-port"])
  func aPortInUseIsRefusedBeforeAnythingRuns(_ option: String) async throws {
    let c = try TempConnector(script: Self.script)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    let taken = try await LocalServer.start(Router())
    defer { taken.stop() }
    let ports =
      option == "--webhook-port"
      ? ["--webhook-port", "\(taken.port)", "--admin-port", "0"]
      : ["--webhook-port", "0", "--admin-port", "\(taken.port)"]
    let run = try await MLHostProcess.run(["run", c.script.path, "--state", state.path] + ports, timeout: 20)
    #expect(run.status != 0)
    #expect(run.stderr.contains("port \(taken.port) on 127.0.0.1 is already in use"), "\(run.stderr)")
    #expect(run.stderr.contains(option))
    #expect(
      !FileManager.default.fileExists(atPath: state.appendingPathComponent("mlhost.sqlite").path), "the run went on")
  }

  @Test func aDamagedStoreIsRefusedAndLeftUntouched() async throws {
    let c = try TempConnector(script: Self.script)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    do {
      let store = try SQLiteStore(directory: state)
      for i in 0..<400 {
        try await store.setValue(connector: "st", key: "k\(i)", value: String(repeating: "v\(i)", count: 60))
      }
    }
    let file = state.appendingPathComponent("mlhost.sqlite")
    // The store closes (checkpointing its WAL into the file) once its thread lets go of the last write.
    let closed = await eventually { !FileManager.default.fileExists(atPath: file.path + "-wal") }
    #expect(closed, "the store was not closed cleanly")
    var bytes = try Data(contentsOf: file)
    let pages = bytes.count / 4096
    #expect(pages >= 20, "too small a store to damage in the middle: \(pages) pages")
    let middle = (pages / 2) * 4096
    bytes.replaceSubrange(middle..<(middle + 4096), with: Data(repeating: 0xA5, count: 4096))
    try bytes.write(to: file)
    let run = try await MLHostProcess.run(
      ["run", c.script.path, "--state", state.path, "--webhook-port", "0", "--admin-port", "0"], timeout: 20)
    #expect(run.status == 1)
    #expect(run.stderr.contains("\(file.path) is damaged"), "\(run.stderr)")
    #expect(run.stderr.contains("left it untouched"))
    #expect(try Data(contentsOf: file) == bytes, "the damaged file was changed")
  }

  @Test func shortAdminTokensAreRefusedAndPlainNetworkListenersWarned() async throws {
    let c = try TempConnector(script: Self.script)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    let args = ["run", c.script.path, "--state", state.path, "--webhook-port", "0", "--admin-port", "0"]
    let short = try MLHostProcess.start(args, environment: ["MLHOST_ADMIN_TOKEN": "x"])
    defer { short.kill() }
    #expect(await short.wait(within: 20) == 1)
    #expect(short.output.contains("MLHOST_ADMIN_TOKEN is 1 characters; use at least 16"), "\(short.output)")
    let tokenFile = state.appendingPathComponent("admin.token")
    try "admin\n".write(to: tokenFile, atomically: true, encoding: .utf8)
    let shortFile = try await MLHostProcess.run(args, timeout: 20)
    #expect(shortFile.status == 1)
    #expect(
      shortFile.stderr.contains("the token in \(tokenFile.path) is 5 characters; use at least 16"),
      "\(shortFile.stderr)")
    try FileManager.default.removeItem(at: tokenFile)
    let open = try await HostProcess(
      scripts: [c.script], state: state, extra: ["--webhook-host", "0.0.0.0", "--admin-host", "0.0.0.0"])
    defer { open.process.kill() }
    #expect(open.process.output.contains("WARNING: webhooks are served over plain HTTP on 0.0.0.0"))
    #expect(open.process.output.contains("WARNING: the admin API is served over plain HTTP on 0.0.0.0"))
    #expect(await open.stop() == 0)
  }
}
