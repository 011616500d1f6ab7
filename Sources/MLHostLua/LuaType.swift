import CLua
import CLuaBridge

/// The type of a value on the stack, as `lua_type` reports it.
public enum LuaType: Int32, Sendable {
  case none = -1
  case nil_ = 0
  case boolean, lightUserdata, number, string, table, function, userdata, thread

  init(_ code: Int32) { self = LuaType(rawValue: code) ?? .none }
}

/// What a call, a load or a resume ended with (`LUA_OK`, `LUA_YIELD`, `LUA_ERR*`).
public enum LuaStatus: Int32, Sendable {
  case ok = 0
  case yield, runtimeError, syntaxError, memoryError, handlerError

  init(_ code: Int32) { self = LuaStatus(rawValue: code) ?? .runtimeError }
}

/// A Swift native as Lua calls it, through the trampoline of CLuaBridge: `{ raw in let L = LuaState(raw!) … }`.
/// It returns how many results it pushed, or one of `NativeStatus`.
public typealias LuaNative = mlh_native_fn

/// The dispatcher behind every typed native (`MLHostVM`): called with the native's object and the owner of the
/// state, both found by the C trampoline.
public typealias LuaTypedDispatch = mlh_typed_fn

/// What a native returns instead of a count of results.
public enum NativeStatus {
  /// Raise the value on top of the stack as the error (the trampoline raises it in C, past no Swift frame).
  public static let raise: Int32 = MLH_RAISE
  /// Suspend the calling coroutine; the host resumes it with the results.
  public static let suspend: Int32 = MLH_SUSPEND
}
