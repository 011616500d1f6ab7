/// A Lua value copied out of (or into) a Lua state. Integers and floats stay distinct, strings are bytes.
public enum LuaValue: Hashable, Sendable {
  case nil_
  case boolean(Bool)
  case integer(Int64)
  case number(Double)
  case string([UInt8])
  /// A table whose keys are exactly 1...n (n ≥ 1).
  case array([LuaValue])
  /// Any other table, including the empty one.
  case map([LuaValue: LuaValue])

  public static func text(_ s: String) -> LuaValue { .string(Array(s.utf8)) }

  /// How deep tables may nest when they cross between Lua and Swift.
  public static let maxDepth = 64

  /// The string as UTF-8 text (invalid sequences repaired), or nil when this is not a string.
  public var stringValue: String? {
    if case .string(let b) = self { return String(decoding: b, as: UTF8.self) }
    return nil
  }

  public var isNil: Bool { if case .nil_ = self { return true } else { return false } }

  public subscript(key: String) -> LuaValue {
    if case .map(let m) = self { return m[.text(key)] ?? .nil_ }
    return .nil_
  }
}

extension LuaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral
{
  public init(stringLiteral value: String) { self = .text(value) }
  public init(integerLiteral value: Int64) { self = .integer(value) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(booleanLiteral value: Bool) { self = .boolean(value) }
  public init(nilLiteral: ()) { self = .nil_ }
  public init(arrayLiteral elements: LuaValue...) { self = .array(elements) }
  public init(dictionaryLiteral elements: (LuaValue, LuaValue)...) {
    self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
  }
}
