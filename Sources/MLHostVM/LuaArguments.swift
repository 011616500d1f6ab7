import MLHostCore
import MLHostLua

/// Checked reads of a native's positional arguments: the value, or a misuse (`HostError.argument`) in Lua's words ("bad argument
/// #2 to 'each' (a limit from 1 to 10000 expected, got nan)"). Numbers are range-checked here, so no Swift
/// conversion downstream can trap on NaN, an infinity or a huge value.
extension LuaState {
  /// The string at argument `n` (a number is not taken for one).
  public func string(arg n: Int32, of native: String) throws -> String {
    guard let s = string(at: n) else { throw expected(n, native, "string") }
    return s
  }

  /// The bytes of the string at argument `n`, valid while the string is on the stack.
  public func bytes(arg n: Int32, of native: String) throws -> UnsafeRawBufferPointer {
    guard type(at: n) == .string, let b = bytes(at: n) else { throw expected(n, native, "string") }
    return b
  }

  /// The integer at argument `n` within `range`; `what` names it in the message ("a limit").
  public func integer(arg n: Int32, of native: String, in range: ClosedRange<Int64>, what: String = "an integer")
    throws -> Int64
  {
    guard let i = integer(at: n, in: range) else {
      throw HostError.argument(
        n, native, "\(what) from \(range.lowerBound) to \(range.upperBound) expected, got \(describe(at: n))")
    }
    return i
  }

  /// Checks that argument `n` is of `type`.
  public func check(arg n: Int32, of native: String, is type: LuaType) throws {
    guard self.type(at: n) == type else { throw expected(n, native, LuaState.name(of: type)) }
  }

  private func expected(_ n: Int32, _ native: String, _ what: String) -> HostError {
    HostError.argument(n, native, "\(what) expected, got \(typeName(at: n))")
  }

  static func name(of type: LuaType) -> String {
    switch type {
    case .none, .nil_: "nil"
    case .boolean: "boolean"
    case .lightUserdata, .userdata: "userdata"
    case .number: "number"
    case .string: "string"
    case .table: "table"
    case .function: "function"
    case .thread: "thread"
    }
  }
}
