import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostVM
import Testing

/// The typed native API as a script meets it: options decoded into a struct with their types checked, positional
/// arguments range-checked, and what a native throws mapped once (misuse raised at the calling line, any other host
/// error answered `nil, token, details`). A VM with a namespace of test natives only.
@Suite struct TypedNativeTests {
  struct Probe: LuaOptions {
    let name: String
    let limit: Int64?
    let strict: Bool

    init(from o: LuaOptionsReader) throws {
      guard let name = try o.string("name") else { throw o.misuse("name", "is required") }
      self.name = name
      limit = try o.integer("limit", in: 1...10)
      strict = try o.bool("strict") ?? false
    }
  }

  static let module = NativeModule(
    "t", "test natives",
    functions: [
      NativeFunction("echo", "") { L, _ in
        let p = try L.options(at: 1, native: "echo", as: Probe.self)
        L.push("\(p.name) \(p.limit.map(String.init) ?? "-") \(p.strict)")
        return .one
      },
      NativeFunction("refuse", "") { _, _ in
        throw HostError(.auth, "no credential named 'x'", token: "auth", retryable: false)
      },
      NativeFunction("read_only", "") { _, _ in throw HostError.misuse("system 's' is read-only", token: "read_only") },
      NativeFunction("double", "") { L, _ in
        L.push(try L.integer(arg: 1, of: "double", in: 1...5, what: "a count") * 2)
        return .one
      },
    ])

  func evaluate(_ source: String) async throws -> LuaValue {
    let vm = try LuaVM(
      name: "typed",
      modulePaths: ModulePaths(connectorDirectory: URL(fileURLWithPath: "/nonexistent"), stdlibDirectory: nil),
      logger: Logger(label: "typed") { _ in SwiftLogNoOpLogHandler() })
    defer { vm.close() }
    try await vm.prepare(VMEnvironment(modules: [Self.module], print: { _, _ in .none }, finish: { _ in }))
    return try await vm.evaluate(source)
  }

  func failure(_ source: String) async -> String {
    do {
      return "no error: \(try await evaluate(source))"
    } catch {
      return "\(error)"
    }
  }

  @Test func optionsDecodeIntoAStruct() async throws {
    #expect(try await evaluate("return mlhost.t.echo { name = 'a', limit = 3.0, strict = true }") == "a 3 true")
    #expect(try await evaluate("return mlhost.t.echo { name = 'b' }") == "b - false")
  }

  @Test func badOptionsAreRefusedAtTheCallingLineNamingTheOption() async throws {
    let cases: [(String, String)] = [
      ("mlhost.t.echo { name = 'a', limt = 3 }", "eval:1: echo: unknown option 'limt' (known: limit, name, strict)"),
      (
        "mlhost.t.echo { name = 'a', [1] = true }", "eval:1: echo: unknown option 'number' (known: limit, name, strict)"
      ),
      ("mlhost.t.echo { name = 'a', limit = 0/0 }", "eval:1: echo: `limit` must be an integer from 1 to 10, got nan"),
      (
        "mlhost.t.echo { name = 'a', limit = 1e300 }",
        "eval:1: echo: `limit` must be an integer from 1 to 10, got 1e+300"
      ),
      ("mlhost.t.echo { name = 'a', strict = 'yes' }", "eval:1: echo: `strict` must be true or false, got string"),
      ("mlhost.t.echo { name = {} }", "eval:1: echo: `name` must be a string, got table"),
      ("mlhost.t.echo {}", "eval:1: echo: `name` is required"),
      ("mlhost.t.echo 'a'", "eval:1: bad argument #1 to 'echo' (options table expected, got string)"),
      ("mlhost.t.double(1/0)", "eval:1: bad argument #1 to 'double' (a count from 1 to 5 expected, got inf)"),
    ]
    for (source, message) in cases {
      let got = await failure(source)
      #expect(got.hasPrefix(message), "\(source): \(got)")
    }
  }

  @Test func aHostErrorAnswersNilTokenAndDetails() async throws {
    let v = try await evaluate(
      "local v, token, d = mlhost.t.refuse() return { v == nil, token, d.message, d.retryable }")
    #expect(v == [.boolean(true), "auth", "no credential named 'x'", .boolean(false)])
  }

  @Test func aMisuseWithItsOwnTokenIsRaisedStructured() async throws {
    let v = try await evaluate(
      "local ok, e = pcall(mlhost.t.read_only) return { ok, e.kind, e.message, e.retryable }")
    #expect(v == [.boolean(false), "read_only", "eval:1: system 's' is read-only", .boolean(false)])
  }
}
