import MLHostCore
import MLHostLua

/// Options a native takes as one table (`mlhost.http.request { url = …, timeout = 5 }`), decoded into a struct by
/// `LuaState.options(at:native:as:)`.
public protocol LuaOptions {
  init(from options: LuaOptionsReader) throws
}

/// Reads an options table field by field with checked types: a value of the wrong type, NaN, an infinity or a number
/// out of range is a misuse (`HostError` of kind `script`) naming the option. The fields a decoder reads are the
/// known options; a key it did not read is refused afterwards, so a misspelt option is never silently ignored and
/// the known list is never written twice.
public final class LuaOptionsReader {
  public let L: LuaState
  /// The native's name, which prefixes every message.
  public let native: String
  let table: Int32
  private(set) var known: [String] = []

  init(L: LuaState, native: String, table: Int32) {
    self.L = L
    self.native = native
    self.table = table
  }

  /// A misuse of option `key`: "native: `key` message".
  public func misuse(_ key: String, _ message: String) -> HostError {
    HostError.misuse("\(native): `\(key)` \(message)")
  }

  /// Calls `read` with option `key` pushed (nil when absent) at the index it passes, and pops it after: for a value
  /// the typed readers do not cover (a table walked in place, a value encoded straight from the stack).
  public func field<T>(_ key: String, _ read: (LuaState, Int32) throws -> T) rethrows -> T {
    known.append(key)
    L.rawGet(table, key)
    let top = L.top
    defer { L.top = top - 1 }
    return try read(L, top)
  }

  /// Calls `read` with the table of option `key`; nil when absent, a misuse when it is not a table.
  public func table<T>(_ key: String, _ read: (LuaState, Int32) throws -> T) throws -> T? {
    try value(key, .table, "a table", read)
  }

  public func string(_ key: String) throws -> String? {
    try value(key, .string, "a string") { L, i in L.string(at: i)! }
  }

  public func bool(_ key: String) throws -> Bool? {
    try value(key, .boolean, "true or false") { L, i in L.bool(at: i) }
  }

  /// Option `key` read by `read` when it is of `type`; nil when absent, else a misuse saying it must be `expected`.
  private func value<T>(
    _ key: String, _ type: LuaType, _ expected: String, _ read: (LuaState, Int32) throws -> T
  ) throws -> T? {
    try field(key) { L, i in
      switch L.type(at: i) {
      case .nil_: return nil
      case type: return try read(L, i)
      default: throw misuse(key, "must be \(expected), got \(L.describe(at: i))")
      }
    }
  }

  /// A finite number within `range`; `unit` names what it counts in the message ("seconds").
  public func number(_ key: String, in range: ClosedRange<Double>, unit: String = "") throws -> Double? {
    try field(key) { L, i in
      if L.type(at: i) == .nil_ { return nil }
      if let d = L.number(at: i, in: range) { return d }
      let what = unit.isEmpty ? "a number" : "a number of \(unit)"
      throw misuse(
        key,
        "must be \(what) from \(Self.text(range.lowerBound)) to \(Self.text(range.upperBound)), "
          + "got \(L.describe(at: i))")
    }
  }

  /// An integer within `range` (a float with an exact integral value counts).
  public func integer(_ key: String, in range: ClosedRange<Int64>) throws -> Int64? {
    try field(key) { L, i in
      if L.type(at: i) == .nil_ { return nil }
      if let n = L.integer(at: i, in: range) { return n }
      throw misuse(key, "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(L.describe(at: i))")
    }
  }

  /// Refuses the first key of the table that no read asked for.
  func refuseUnread() throws {
    L.pushNil()
    while L.next(table) {
      L.pop()
      guard let key = L.string(at: -1), known.contains(key) else {
        let name = L.string(at: -1) ?? L.typeName(at: -1)
        L.pop()
        throw HostError.misuse("\(native): unknown option '\(name)' (known: \(known.sorted().joined(separator: ", ")))")
      }
    }
  }

  /// 86400 rather than 86400.0, 0.001 as it is.
  static func text(_ d: Double) -> String {
    d == d.rounded() && abs(d) < 1e15 ? "\(Int64(d))" : "\(d)"
  }
}

extension LuaState {
  /// Decodes the options table at argument `index` of `native`; anything else there is an argument error.
  public func options<O: LuaOptions>(at index: Int32, native: String, as: O.Type = O.self) throws -> O {
    guard type(at: index) == .table else {
      throw HostError.argument(index, native, "options table expected, got \(typeName(at: index))")
    }
    let reader = LuaOptionsReader(L: self, native: native, table: absIndex(index))
    let options = try O(from: reader)
    try reader.refuseUnread()
    return options
  }
}
