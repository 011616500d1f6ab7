import CLua
import CLuaBridge

/// A borrowed handle on a `lua_State` (a VM's main thread or one of its coroutines). It owns nothing: the VM
/// that created the state closes it. It is not `Sendable`: it stays inside the VM it belongs to, which is isolated
/// to the VM's thread.
public struct LuaState {
  public let raw: OpaquePointer

  public init(_ raw: OpaquePointer) { self.raw = raw }

  public var top: Int32 {
    get { lua_gettop(raw) }
    nonmutating set { lua_settop(raw, newValue) }
  }

  @inlinable public func type(at index: Int32) -> LuaType { LuaType(rawValue: lua_type(raw, index)) ?? .none }
  public func isNoneOrNil(_ index: Int32) -> Bool { mlh_lua_isnoneornil(raw, index) != 0 }
  public func pop(_ n: Int32 = 1) { mlh_lua_pop(raw, n) }
  public func absIndex(_ index: Int32) -> Int32 { lua_absindex(raw, index) }

  // MARK: pushing

  public func pushNil() { lua_pushnil(raw) }
  public func push(_ b: Bool) { lua_pushboolean(raw, b ? 1 : 0) }
  public func push(_ i: Int64) { lua_pushinteger(raw, lua_Integer(i)) }
  public func push(_ i: Int) { lua_pushinteger(raw, lua_Integer(i)) }
  public func push(_ d: Double) { lua_pushnumber(raw, d) }
  public func push(_ s: String) {
    var s = s
    s.withUTF8 { buf in
      _ = lua_pushlstring(
        raw, buf.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, buf.count)
    }
  }
  public func push(bytes: UnsafeRawBufferPointer) {
    _ = lua_pushlstring(raw, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
  }
  public func push(bytes: [UInt8]) { bytes.withUnsafeBytes { push(bytes: $0) } }
  /// Pushes the string, or nil when there is none.
  public func push(optional s: String?) { if let s { push(s) } else { pushNil() } }
  public func pushValue(at index: Int32) { lua_pushvalue(raw, index) }
  public func newTable(array: Int32 = 0, hash: Int32 = 0) { lua_createtable(raw, array, hash) }

  /// Pushes a Swift native. `upvalues` values are taken from the top of the stack.
  public func push(native fn: LuaNative, upvalues: Int32 = 0) { mlh_push_native(raw, fn, upvalues) }
  /// Pushes a function that calls `dispatch` with `native` (an object its owner keeps alive as long as the state).
  public func push(dispatch: LuaTypedDispatch, native: UnsafeMutableRawPointer) {
    mlh_push_typed_native(raw, dispatch, native)
  }

  /// Pushes a copy of `value`. Nested tables beyond `LuaValue.maxDepth` levels come from Swift code, never from a
  /// script (values copied out of Lua are limited to that depth), so they are a programming error.
  public func push(_ value: LuaValue) {
    precondition(lua_checkstack(raw, 3) != 0, "Lua stack exhausted while pushing a value")
    switch value {
    case .nil_: pushNil()
    case .boolean(let b): push(b)
    case .integer(let i): push(i)
    case .number(let d): push(d)
    case .string(let bytes): push(bytes: bytes)
    case .array(let items):
      newTable(array: Int32(items.count))
      for (i, item) in items.enumerated() {
        push(item)
        lua_rawseti(raw, -2, lua_Integer(i + 1))
      }
    case .map(let entries):
      newTable(hash: Int32(entries.count))
      for (k, v) in entries {
        push(k)
        push(v)
        lua_rawset(raw, -3)
      }
    }
  }

  // MARK: reading

  /// The bytes of the string (or number, converted in place as Lua does) at `index`.
  public func bytes(at index: Int32) -> UnsafeRawBufferPointer? {
    var len = 0
    guard let p = mlh_lua_tostring(raw, index, &len) else { return nil }
    return UnsafeRawBufferPointer(start: p, count: len)
  }

  /// The string at `index` without number coercion, or nil when the value is not a string.
  public func string(at index: Int32) -> String? {
    guard lua_type(raw, index) == LUA_TSTRING, let b = bytes(at: index) else { return nil }
    return String(decoding: b, as: UTF8.self)
  }

  public func integer(at index: Int32) -> Int64? {
    var ok: Int32 = 0
    let v = mlh_lua_tointeger(raw, index, &ok)
    return ok != 0 && lua_type(raw, index) == LUA_TNUMBER ? Int64(v) : nil
  }

  public func number(at index: Int32) -> Double? {
    guard lua_type(raw, index) == LUA_TNUMBER else { return nil }
    return mlh_lua_tonumber(raw, index, nil)
  }

  public func isInteger(_ index: Int32) -> Bool { lua_isinteger(raw, index) != 0 }
  public func bool(at index: Int32) -> Bool { lua_toboolean(raw, index) != 0 }

  /// The number at `index` when it is finite and within `range` (integers are converted exactly), nil for any
  /// other value: NaN, ±inf, out of range, or not a number. Natives read every number a script passes through
  /// this (or `integer(at:in:)`), so no Swift conversion can trap on a script's value.
  public func number(at index: Int32, in range: ClosedRange<Double>) -> Double? {
    guard let d = number(at: index), d.isFinite, range.contains(d) else { return nil }
    return d
  }

  /// The integer at `index` within `range`, also from a float with an exact integral value (`2.0`), else nil.
  public func integer(at index: Int32, in range: ClosedRange<Int64>) -> Int64? {
    guard let i = integer(at: index), range.contains(i) else { return nil }
    return i
  }

  /// Copies the value at `index` out of Lua. Functions, userdata and threads cannot be copied; tables nested
  /// deeper than `LuaValue.maxDepth` are refused (a script may build them to exhaust the host's stacks).
  public func value(at index: Int32, depth: Int = 0) throws -> LuaValue {
    switch lua_type(raw, index) {
    case LUA_TNIL, LUA_TNONE: return .nil_
    case LUA_TBOOLEAN: return .boolean(bool(at: index))
    case LUA_TNUMBER:
      if isInteger(index) { return .integer(Int64(mlh_lua_tointeger(raw, index, nil))) }
      return .number(mlh_lua_tonumber(raw, index, nil))
    case LUA_TSTRING: return .string(Array(bytes(at: index)!))
    case LUA_TTABLE:
      guard depth < LuaValue.maxDepth else {
        throw LuaError(message: "table nested more than \(LuaValue.maxDepth) levels deep (a cycle?)")
      }
      guard lua_checkstack(raw, 3) != 0 else { throw LuaError(message: "out of Lua stack space") }
      return try table(at: absIndex(index), depth: depth + 1)
    default:
      let name = String(cString: lua_typename(raw, lua_type(raw, index)))
      throw LuaError(message: "a \(name) cannot leave Lua")
    }
  }

  private func table(at index: Int32, depth: Int) throws -> LuaValue {
    let n = Int(lua_rawlen(raw, index))
    var map: [LuaValue: LuaValue] = [:]
    var count = 0
    lua_pushnil(raw)
    while lua_next(raw, index) != 0 {
      do {
        let k = try value(at: -2, depth: depth)
        map[k] = try value(at: -1, depth: depth)
      } catch {
        pop(2)
        throw error
      }
      count += 1
      pop()
    }
    if n > 0 && count == n {
      var items = [LuaValue](repeating: .nil_, count: n)
      for (k, v) in map {
        guard case .integer(let i) = k, i >= 1, i <= n else { return .map(map) }
        items[Int(i - 1)] = v
      }
      return .array(items)
    }
    return .map(map)
  }

  // MARK: tables and globals

  @discardableResult public func getField(_ index: Int32, _ key: String) -> LuaType {
    LuaType(lua_getfield(raw, index, key))
  }
  public func setField(_ index: Int32, _ key: String) { lua_setfield(raw, index, key) }
  @discardableResult public func rawGet(_ index: Int32, _ i: Int64) -> LuaType {
    LuaType(lua_rawgeti(raw, index, lua_Integer(i)))
  }
  public func rawSet(_ index: Int32, _ i: Int64) { lua_rawseti(raw, index, lua_Integer(i)) }
  public func rawLength(_ index: Int32) -> Int { Int(lua_rawlen(raw, index)) }

  /// Stores the value on top into the registry and returns its reference (pops it).
  public func ref() -> Int32 { luaL_ref(raw, MLH_LUA_REGISTRYINDEX) }
  public func unref(_ ref: Int32) { luaL_unref(raw, MLH_LUA_REGISTRYINDEX, ref) }
  public func pushRef(_ ref: Int32) { _ = lua_rawgeti(raw, MLH_LUA_REGISTRYINDEX, lua_Integer(ref)) }

  /// Hides the metatable on top of the stack from scripts: `getmetatable` answers false and `setmetatable`
  /// refuses to replace it.
  public func lockMetatable() {
    push(false)
    setField(-2, "__metatable")
  }

  // MARK: errors

  /// Chunks the host loads itself (the `require` prelude, the job object) are named `=mlhost.…`: positions skip
  /// their frames, so an error or log line names the script's line, never the host's Lua.
  public static let internalChunkPrefix = "=mlhost."

  /// "file:line: " of the script code `level` frames up (1 = the caller of the running native), or "".
  public func whereString(level: Int32 = 1) -> String {
    callerPosition(level: level).map { "\($0.file):\($0.line): " } ?? ""
  }

  /// The position, as (file, line), of the first frame from `level` up that is script code: C functions and the
  /// host's own chunks are passed over. For errors, logs and audit rows.
  public func callerPosition(level: Int32 = 1) -> (file: String, line: Int)? {
    var ar = lua_Debug()
    var level = level
    while lua_getstack(raw, level, &ar) != 0, lua_getinfo(raw, "Sl", &ar) != 0 {
      level += 1
      guard ar.currentline > 0, let source = ar.source,
        !String(cString: source).hasPrefix(Self.internalChunkPrefix)
      else { continue }
      let src = withUnsafeBytes(of: &ar.short_src) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
      return (src, Int(ar.currentline))
    }
    return nil
  }

  /// Pushes `message` blamed on the calling script line and returns `NativeStatus.raise`, for a native to return.
  /// Misuse errors go through here: level 1 is the Lua code that called the native.
  public func raise(_ message: String) -> Int32 {
    push(whereString(level: 1) + message)
    return NativeStatus.raise
  }

  /// Raises a structured error `{kind=, message=, retryable=}` so the runtime can classify it (a refusal that no
  /// retry will cure dead-letters at once).
  public func raise(kind: String, _ message: String, retryable: Bool) -> Int32 {
    push(
      ["kind": .text(kind), "message": .text(whereString(level: 1) + message), "retryable": .boolean(retryable)]
        as LuaValue)
    return NativeStatus.raise
  }

  /// "bad argument #n to 'name' (message)" in Lua's own words.
  public func argError(_ n: Int32, _ name: String, _ message: String) -> Int32 {
    raise("bad argument #\(n) to '\(name)' (\(message))")
  }

  /// The value at `index` as a message shows it: a number by its value (NaN and infinities included), anything
  /// else by its type.
  public func describe(at index: Int32) -> String {
    guard lua_type(raw, index) == LUA_TNUMBER else { return typeName(at: index) }
    if isInteger(index) { return "\(integer(at: index) ?? 0)" }
    let d = number(at: index) ?? 0
    return d.isNaN ? "nan" : "\(d)"
  }

  public func typeName(at index: Int32) -> String {
    String(cString: lua_typename(raw, lua_type(raw, index)))
  }

  /// A traceback of `thread` (or self), prefixed with `message`.
  public func traceback(of thread: LuaState? = nil, message: String?, level: Int32 = 0) -> String {
    luaL_traceback(raw, (thread ?? self).raw, message, level)
    defer { pop() }
    return string(at: -1) ?? message ?? ""
  }
}

@available(*, unavailable, message: "a Lua state stays on its VM's thread")
extension LuaState: Sendable {}
