import CLua
import CLuaBridge
import Foundation
import MLHostLua
import Synchronization
import Testing

/// A bare state with the bridge's allocator, for bridge-level tests.
final class BareState {
  let memory = UnsafeMutablePointer<mlh_memory>.allocate(capacity: 1)
  let context = UnsafeMutablePointer<mlh_vmctx>.allocate(capacity: 1)
  let L: LuaState

  init() {
    memory.initialize(to: mlh_memory(used: 0, limit: 0, peak: 0, enforce: 0, ctx: nil))
    context.initialize(to: mlh_vmctx(current: nil, owner: nil, granularity: 1000, checks: 0))
    L = LuaState(mlh_newstate(memory, context)!)
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

/// Counts live instances, so a test can tell whether a native's Swift frame was unwound (its locals
/// released) or jumped over (they leak). Counting beats measuring memory: other tests run in parallel.
private final class Tracked {
  static let live = Atomic<Int>(0)
  init() { Tracked.live.add(1, ordering: .relaxed) }
  deinit { Tracked.live.subtract(1, ordering: .relaxed) }
}

/// Holds a Swift object while raising: were the raise to longjmp over this frame, every call would leak it.
private let failingWithSwiftAllocation: mlh_native_fn = { raw in
  let L = LuaState(raw!)
  let held = Tracked()
  return withExtendedLifetime(held) { L.raise("refused") }
}

/// Holds a Swift object while suspending, for the same reason.
private let suspendingNative: mlh_native_fn = { _ in
  let held = Tracked()
  return withExtendedLifetime(held) { MLH_SUSPEND }
}

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

  /// Errors raised by Swift natives unwind only through the C trampoline, so Swift objects are released
  /// after each of 100k errors (a longjmp over a Swift frame would leak every one).
  @Test func hundredThousandErrorsReleaseEverySwiftObject() throws {
    let s = BareState()
    s.L.push(native: failingWithSwiftAllocation)
    lua_setglobal(s.L.raw, "fail")
    let before = Tracked.live.load(ordering: .relaxed)
    try s.run("local n = 0 for i = 1, 100000 do if not pcall(fail) then n = n + 1 end end return n")
    #expect(s.L.integer(at: -1) == 100_000)
    // A leak would leave 100k alive; the other test in this suite may hold one at a time.
    #expect(Tracked.live.load(ordering: .relaxed) - before < 10)
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
    while status == LUA_YIELD {
      rounds += 1
      co.push(Int64(2))
      status = lua_resume(co.raw, s.L.raw, 1, &nres)
    }
    #expect(status == LUA_OK)
    #expect(rounds == 100_000)
    #expect(co.integer(at: -1) == 200_000)
    #expect(Tracked.live.load(ordering: .relaxed) < 10)
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
