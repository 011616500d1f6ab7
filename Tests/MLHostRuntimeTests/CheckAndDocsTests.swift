import Foundation
import MLHostModules
import MLHostRuntime
import MLHostTesting
import Testing

/// `mlhost check` as a person fixing a deployment reads it, and the docs a connector author reads (issue #12,
/// items 16 and 17).
@Suite(.serialized) struct CheckAndDocsTests {
  static let schema = """
    local c = mlhost.connector {
      name = "x",
      settings = {
        x3 = { type = "record", fields = { url = { type = "url", required = true }, credential = { type = "credential" } } },
        batch = { type = "integer", default = 10 },
      },
    }
    """

  @Test func settingsProblemsPointAtTheTOMLLine() async throws {
    let c = try TempConnector(
      script: Self.schema + "\nreturn c\n",
      settings: "# deployment\nbatch = \"ten\"\n\n[x3]\ncredential = \"x3_app\"\nurl = \"ftp://x\"\n")
    defer { c.remove() }
    let r = try await MLHostProcess.run(["check", c.script.path])
    #expect(r.status == 1)
    #expect(
      r.stderr.contains("connector.toml:6: settings.x3.url: an http(s) URL expected, got 'ftp://x'"), "\(r.stderr)")
    #expect(r.stderr.contains("connector.toml:2: settings.batch: an integer expected"), "\(r.stderr)")
  }

  @Test func aMissingKeyPointsAtItsTableAndAnOverrideAtTheOption() async throws {
    let c = try TempConnector(
      script: Self.schema + "\nreturn c\n", settings: "batch = 5\n\n[x3]\ncredential = \"x3_app\"\n")
    defer { c.remove() }
    let missing = try await MLHostProcess.run(["check", c.script.path])
    #expect(
      missing.stderr.contains("connector.toml:3: settings.x3.url: required setting is missing"), "\(missing.stderr)")
    let overridden = try await MLHostProcess.run(["check", c.script.path, "--set", "x3.url=nope"])
    #expect(
      overridden.stderr.contains("--set x3.url: settings.x3.url: an http(s) URL expected"), "\(overridden.stderr)")
  }

  @Test func credentialsMissingFromTheVaultAreWarnedAbout() async throws {
    let c = try TempConnector(
      script: Self.schema + "\nreturn c\n", settings: "[x3]\nurl = \"https://x3.example\"\ncredential = \"x3_app\"\n")
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state").path
    let before = try await MLHostProcess.run(["check", c.script.path, "--state", state])
    #expect(before.status == 0, "\(before.stderr)")
    #expect(before.stderr.contains("warning: "), "\(before.stderr)")
    #expect(
      before.stderr.contains("connector.toml:3: settings.x3.credential: credential 'x3_app' is not in the vault"),
      "\(before.stderr)")
    let stored = try await MLHostProcess.run([
      "creds", "set", "x3_app", "--type", "basic", "--field", "user=u", "--field", "password=p", "--state", state,
    ])
    #expect(stored.status == 0, "\(stored.stderr)")
    let after = try await MLHostProcess.run(["check", c.script.path, "--state", state])
    #expect(after.status == 0)
    #expect(!after.stderr.contains("x3_app"), "\(after.stderr)")
  }

  @Test func readingAnUndeclaredSettingIsAnErrorAtTheLineThatReadsIt() async throws {
    let c = try TempConnector(
      script: Self.schema + "\nlocal rate = c.settings.vta\nreturn c\n",
      settings: "[x3]\nurl = \"https://x3.example\"\n")
    defer { c.remove() }
    let r = try await MLHostProcess.run(["check", c.script.path])
    #expect(r.status == 1)
    #expect(
      r.stderr.contains("connector.lua:8: settings.vta is not a declared setting (declared: batch, x3)"), "\(r.stderr)")
    // A declared setting without a value is nil, and a nested record is checked too.
    let ok = try TempConnector(
      script: Self.schema + "\nassert(c.settings.x3.credential == nil)\nlocal u = c.settings.x3.uri\nreturn c\n",
      settings: "[x3]\nurl = \"https://x3.example\"\n")
    defer { ok.remove() }
    let nested = try await MLHostProcess.run(["check", ok.script.path])
    #expect(
      nested.stderr.contains("connector.lua:9: settings.x3.uri is not a declared setting (declared: credential, url)"),
      "\(nested.stderr)")
  }

  @Test func checkingAFileThatDoesNotExistSaysSo() async throws {
    let r = try await MLHostProcess.run(["check", "nope.lua"])
    #expect(r.status == 1)
    #expect(r.stderr.contains("nope.lua: the file does not exist"), "\(r.stderr)")
    #expect(!r.stderr.contains("USAGE"))
  }

  /// The job and record objects are written in Lua; their docs come from job.lua's annotations.
  @Test func theDocsCoverTheAPIWrittenInLua() {
    let stubs = APIReference.luaStubs()
    #expect(stubs.contains("---@class mlhost.Record\n"))
    #expect(stubs.contains("---@class mlhost.Job\n"))
    #expect(stubs.contains("function Job:record(kind, key, input) end"))
    #expect(stubs.contains("function Job:cursor(name) end"))
    #expect(stubs.contains("function Job:advance_cursor(name, value) end"))
    #expect(stubs.contains("function Job:enqueue(name, input, opts) end"))
    #expect(stubs.contains("function Record:reject(reason) end"))
    #expect(stubs.contains("function Record:target_id(system) end"))
    let md = APIReference.markdown()
    for entry in [
      "### `job:record(kind, key, input)`", "### `job:enqueue(name, input, opts)`",
      "### `rec:created(system, id, details)`",
      "### `rec:unchanged(system, id, details)`", "### `rec:reject(reason)`", "`job.run_id` (`string`)",
    ] {
      #expect(md.contains(entry), "missing \(entry)")
    }
    // Every class the stubs reference is defined in them.
    let referenced = Set(stubs.matches(of: /mlhost\.[A-Z][A-Za-z]*/).map { String($0.output) })
    for name in referenced {
      #expect(stubs.contains("---@class \(name)\n") || stubs.contains("---@alias \(name) "), "\(name) is never defined")
    }
  }

  /// The README's connector example runs as printed, and its package list is what scripts/setup installs.
  @Test func theReadmeExampleRunsAndItsPackagesMatchSetup() async throws {
    let readme = try String(contentsOf: Repository.root.appendingPathComponent("README.md"), encoding: .utf8)
    let section = try #require(readme.range(of: "## Writing a connector"))
    let rest = readme[section.upperBound...]
    let start = try #require(rest.range(of: "```lua\n"))
    let end = try #require(rest[start.upperBound...].range(of: "```"))
    let c = try TempConnector(script: String(rest[start.upperBound..<end.lowerBound]))
    defer { c.remove() }
    let r = try await MLHostProcess.run([
      "run", c.script.path, "--once", "--state", c.directory.appendingPathComponent("state").path,
      "--stdlib", Repository.stdlib.path, "--webhook-port", "0", "--admin-port", "0",
    ])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stderr.contains("job failed"), "\(r.stderr)")
    #expect(r.stderr.contains("INFO    digest"), "\(r.stderr)")

    let setup = try String(contentsOf: Repository.root.appendingPathComponent("scripts/setup"), encoding: .utf8)
    let list = try #require(setup.firstMatch(of: /packages=\(([^)]*)\)/)).output.1
    let listed = try #require(readme.firstMatch(of: /installs the Debian packages the host needs \(([^)]*)\)/)).output.1
      .replacingOccurrences(of: "\n", with: " ")
    for package in list.split(separator: " ") {
      #expect(listed.contains(String(package)), "README does not list \(package)")
    }
  }
}
