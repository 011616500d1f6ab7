import CLua
import CLuaBridge

/// The stack operations natives and the VM use beyond pushing and reading values: tables walked and written raw,
/// metatables, userdata, globals and the registry, moving values between threads. Thin and inlinable: they sit on
/// the hot paths of the JSON codec and the request native.
extension LuaState {
  /// The pseudo-index of the registry, where the host keeps what scripts must not reach.
  public static let registry: Int32 = MLH_LUA_REGISTRYINDEX

  /// The index a native reads its own upvalue `i` (1-based) at, behind the trampoline's.
  public static func upvalue(_ i: Int32) -> Int32 { mlh_native_upvalue(i) }

  @inlinable public func remove(at index: Int32) { mlh_lua_remove(raw, index) }
  /// Moves the top value to `index`, shifting the ones above up.
  @inlinable public func insert(at index: Int32) { mlh_lua_insert(raw, index) }
  /// Pops the top value into `index`.
  @inlinable public func replace(at index: Int32) { mlh_lua_replace(raw, index) }
  /// Whether the stack has room for `n` more values (it grows when it can).
  @inlinable public func checkStack(_ n: Int32) -> Bool { lua_checkstack(raw, n) != 0 }
  /// Moves `n` values from the top of this thread to the top of `other` (same VM).
  public func move(_ n: Int32, to other: LuaState) { lua_xmove(raw, other.raw, n) }

  // MARK: tables

  /// Pops a key and pushes the next key and value of the table at `table`; false (nothing pushed) at the end.
  @inlinable public func next(_ table: Int32) -> Bool { lua_next(raw, table) != 0 }
  /// Replaces the key on top with `table[key]`, without metamethods.
  @inlinable @discardableResult public func rawGet(_ table: Int32) -> LuaType {
    LuaType(rawValue: lua_rawget(raw, table)) ?? .none
  }
  /// Pushes `table[key]`, without metamethods: how natives read an options table.
  @discardableResult public func rawGet(_ table: Int32, _ key: String) -> LuaType {
    let t = absIndex(table)
    push(key)
    return rawGet(t)
  }
  /// Pops a key and a value (value on top) and sets `table[key] = value`, without metamethods.
  @inlinable public func rawSet(_ table: Int32) { lua_rawset(raw, table) }
  @inlinable public func rawEqual(_ a: Int32, _ b: Int32) -> Bool { lua_rawequal(raw, a, b) != 0 }

  @discardableResult public func getGlobal(_ name: String) -> LuaType { LuaType(lua_getglobal(raw, name)) }
  /// Pops the top value into the global `name`.
  public func setGlobal(_ name: String) { lua_setglobal(raw, name) }

  // MARK: metatables and userdata

  /// Pushes the metatable of the value at `index`; false (nothing pushed) when it has none.
  @inlinable public func getMetatable(_ index: Int32) -> Bool { lua_getmetatable(raw, index) != 0 }
  /// Pops a table and makes it the metatable of the value at `index`.
  @inlinable public func setMetatable(_ index: Int32) { lua_setmetatable(raw, index) }
  /// Pushes the registry's metatable `name`, made empty when new; true when it was made now.
  @discardableResult public func newMetatable(_ name: String) -> Bool { luaL_newmetatable(raw, name) != 0 }
  /// Pushes the registry's metatable `name` (nil when there is none).
  @inlinable @discardableResult public func pushMetatable(named name: UnsafePointer<CChar>) -> LuaType {
    LuaType(rawValue: mlh_lua_getmetatable_named(raw, name)) ?? .none
  }
  /// The block of the full userdata at `index` when its metatable is the registry's `name`, else nil.
  @inlinable public func userdata(_ index: Int32, named name: UnsafePointer<CChar>) -> UnsafeMutableRawPointer? {
    luaL_testudata(raw, index, name)
  }
  /// Pushes a new full userdata of `size` bytes and returns its block.
  @inlinable public func newUserdata(size: Int) -> UnsafeMutableRawPointer { mlh_lua_newuserdata(raw, size)! }
  @inlinable public func push(lightUserdata p: UnsafeMutableRawPointer) { lua_pushlightuserdata(raw, p) }
  @inlinable public func lightUserdata(at index: Int32) -> UnsafeMutableRawPointer? { lua_touserdata(raw, index) }

  // MARK: collector

  /// A full collection now.
  public func collectGarbage() { _ = mlh_lua_gc_collect(raw) }
  /// Kilobytes of memory the state uses.
  public func memoryKB() -> Int { Int(mlh_lua_gc_count_kb(raw)) }
}
