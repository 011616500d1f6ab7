import CLua
import CLuaBridge
import Foundation
import MLHostLua
import Testing

/// A bare state with the bridge's allocator, for bridge-level tests.
final class BareState {
  let memory = UnsafeMutablePointer<mlh_memory>.allocate(capacity: 1)
  let context = UnsafeMutablePointer<mlh_vmctx>.allocate(capacity: 1)
  let L: LuaState

  init() {
    memory.initialize(to: mlh_memory(used: 0, limit: 0, peak: 0, enforce: 0))
    context.initialize(to: mlh_vmctx(current: nil, owner: nil))
    L = LuaState(mlh_newstate(memory, context, 1000)!)
    luaL_openlibs(L.raw)
  }

  deinit {
    lua_close(L.raw)
    memory.deallocate()
    context.deallocate()
  }

  func run(_ code: String) throws {
    guard mlh_luaL_loadbuffer(L.raw, code, code.utf8.count, "@test.lua", "t") == LUA_OK else {
      defer { L.pop() }
      throw LuaError(message: L.string(at: -1) ?? "?")
    }
    guard mlh_lua_pcall(L.raw, 0, 1, 0) == LUA_OK else {
      defer { L.pop() }
      throw LuaError(message: L.string(at: -1) ?? "?")
    }
  }
}

private let failingNative: mlh_native_fn = { raw in
  LuaState(raw!).raise("refused")
}

/// Builds a 4 KiB Swift string before raising: were the raise to longjmp over this frame, every call would
/// leak it (100k calls → 400 MB).
private let failingWithSwiftAllocation: mlh_native_fn = { raw in
  let L = LuaState(raw!)
  let detail = String(repeating: "x", count: 4096)
  return L.raise("refused " + detail.prefix(3))
}

private let suspendingNative: mlh_native_fn = { _ in MLH_SUSPEND }

@Suite struct BridgeTests {
  @Test func valuesRoundTripWithIntegersAndFloatsDistinct() throws {
    let s = BareState()
    let value: LuaValue = [
      "int": 3, "float": 3.0, "big": .integer(Int64.max), "neg": -7, "t": true, "f": false,
      "bytes": .string([0, 255, 10, 0x41]), "list": [1, "two", 3.5, [4]],
      "nested": ["a": ["b": ["c": "deep"]]], "empty": [:],
    ]
    s.L.push(value)
    let back = try s.L.value(at: -1)
    #expect(back == value)
    #expect(back["int"] == .integer(3))
    #expect(back["float"] == .number(3.0))
    // Lua sees the same distinction.
    s.L.pop()
    try s.run("return math.type(3) .. math.type(3.0)")
    #expect(s.L.string(at: -1) == "integerfloat")
  }

  @Test func functionsCannotLeaveLua() throws {
    let s = BareState()
    try s.run("return { f = print }")
    #expect(throws: LuaError.self) { try s.L.value(at: -1) }
  }

  @Test func nativeErrorsBlameTheCallingLine() throws {
    let s = BareState()
    s.L.push(native: failingNative)
    lua_setglobal(s.L.raw, "fail")
    do {
      try s.run("local x = 1\nfail()\n")
      Issue.record("expected an error")
    } catch let e as LuaError {
      #expect(e.message == "test.lua:2: refused")
      #expect(e.location?.file == "test.lua")
      #expect(e.location?.line == 2)
      #expect(e.reason == "refused")
    }
  }

  /// Errors raised by Swift natives unwind only through the C trampoline, so Swift objects are released:
  /// memory stays flat over 100k errors (a longjmp over a Swift frame would leak every one).
  @Test func hundredThousandErrorsKeepMemoryFlat() throws {
    let s = BareState()
    s.L.push(native: failingWithSwiftAllocation)
    lua_setglobal(s.L.raw, "fail")
    try s.run("for i = 1, 1000 do pcall(fail) end")
    let before = residentBytes()
    try s.run("for i = 1, 100000 do pcall(fail) end collectgarbage()")
    let grown = residentBytes() - before
    #expect(grown < 64 << 20, "resident memory grew \(grown >> 20) MiB over 100k errors")
  }

  @Test func suspendingNativeYieldsAndResumesWithValues() throws {
    let s = BareState()
    s.L.push(native: suspendingNative)
    lua_setglobal(s.L.raw, "wait")
    let co = LuaState(lua_newthread(s.L.raw)!)
    let code = "local total = 0 for i = 1, 100000 do total = total + wait() end return total"
    #expect(mlh_luaL_loadbuffer(co.raw, code, code.utf8.count, "@co.lua", "t") == LUA_OK)
    var nres: Int32 = 0
    var status = lua_resume(co.raw, s.L.raw, 0, &nres)
    var rounds = 0
    let before = residentBytes()
    while status == LUA_YIELD {
      rounds += 1
      co.push(Int64(2))
      status = lua_resume(co.raw, s.L.raw, 1, &nres)
    }
    #expect(status == LUA_OK)
    #expect(rounds == 100_000)
    #expect(co.integer(at: -1) == 200_000)
    #expect(residentBytes() - before < 64 << 20)
  }

  @Test func resumingWithTheRaiseMarkerRaisesInsideLua() throws {
    let s = BareState()
    s.L.push(native: suspendingNative)
    lua_setglobal(s.L.raw, "wait")
    let co = LuaState(lua_newthread(s.L.raw)!)
    let code = "local ok, err = pcall(wait)\nreturn err"
    #expect(mlh_luaL_loadbuffer(co.raw, code, code.utf8.count, "@co.lua", "t") == LUA_OK)
    var nres: Int32 = 0
    #expect(lua_resume(co.raw, s.L.raw, 0, &nres) == LUA_YIELD)
    lua_pushlightuserdata(co.raw, mlh_raise_marker())
    co.push("timed out")
    #expect(lua_resume(co.raw, s.L.raw, 2, &nres) == LUA_OK)
    #expect(co.string(at: -1) == "timed out")
  }
}

/// Resident set size from /proc, in bytes.
func residentBytes() -> Int {
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
  let pages = text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
  return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
