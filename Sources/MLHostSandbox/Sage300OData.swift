import Foundation
import MLHostCore

/// The `$filter` subset the Sage 300 Web API documents (API facts §5.3): `eq ne gt ge lt le`, `and`, `or`, `not`,
/// parentheses, `startswith`, `endswith`, `substringof`, `length`, literals `'text'` (a quote doubled),
/// `datetime'2015-12-31T12:00'`, decimals `99.99m`, integers, `true`/`false`/`null`, and `Details/any(d: …)` over a
/// detail collection. Types are checked as Sage 300's OData layer checks them: a date compares only with a
/// `datetime'…'`, a decimal property only with an `m` literal or an integer, text only with text.
struct Sage300Filter {
  indirect enum Node {
    case or(Node, Node)
    case and(Node, Node)
    case not(Node)
    case compare(Operand, String, Operand)
    case function(String, [Operand])
    case any(path: String, variable: String, Node)
  }

  enum Operand {
    case property(String)
    case text(String)
    case datetime(String)
    case decimal(ExactDecimal)
    case integer(Int64)
    case boolean(Bool)
    case null
    case length(String)
  }

  struct Problem: Error, CustomStringConvertible { let description: String }

  /// What a property holds, so a literal of another type is refused.
  enum Kind { case text, date, decimal, integer }

  let root: Node

  init(_ text: String) throws {
    var p = Parser(Array(text.utf8))
    root = try p.expression()
    p.skipSpace()
    guard p.at >= p.bytes.count else {
      throw Problem(description: "unexpected text at position \(p.at + 1) of $filter")
    }
  }

  /// Whether `row` matches; `kinds` gives each property's type (nil: unknown property, refused).
  func matches(_ row: [String: Any], kinds: (String) -> Kind?, details: (String) -> ((String) -> Kind?)?) throws -> Bool
  {
    try Self.eval(root, row, [:], kinds, details)
  }

  private static func eval(
    _ n: Node, _ row: [String: Any], _ vars: [String: [String: Any]], _ kinds: (String) -> Kind?,
    _ details: (String) -> ((String) -> Kind?)?
  ) throws -> Bool {
    switch n {
    case .or(let a, let b): return try eval(a, row, vars, kinds, details) || eval(b, row, vars, kinds, details)
    case .and(let a, let b): return try eval(a, row, vars, kinds, details) && eval(b, row, vars, kinds, details)
    case .not(let a): return try !eval(a, row, vars, kinds, details)
    case .any(let path, let variable, let inner):
      guard let detailKinds = details(path) else {
        throw Problem(description: "'\(path)' is not a collection of details")
      }
      let items = row[path] as? [[String: Any]] ?? []
      return try items.contains { item in
        var v = vars
        v[variable] = item
        return try eval(
          inner, row, v,
          { name in
            if name.hasPrefix(variable + "/") { return detailKinds(String(name.dropFirst(variable.count + 1))) }
            return kinds(name)
          }, details)
      }
    case .function(let name, let args):
      let values = try args.map { try resolve($0, row, vars, kinds) }
      guard values.count == 2, case .text(let a)? = values[0].0, case .text(let b)? = values[1].0 else {
        throw Problem(description: "\(name) takes a text property and a text literal")
      }
      switch name {
      case "startswith": return a.hasPrefix(b)
      case "endswith": return a.hasSuffix(b)
      default: return b.contains(a)  // substringof('needle', Property)
      }
    case .compare(let l, let op, let r):
      let (a, ka) = try resolve(l, row, vars, kinds)
      let (b, kb) = try resolve(r, row, vars, kinds)
      if let ka, let kb, ka != kb, !(ka == .decimal && kb == .integer), !(ka == .integer && kb == .decimal) {
        throw Problem(description: "a \(ka) cannot be compared with a \(kb) literal (\(op))")
      }
      guard let a, let b else {
        let same = (a == nil) == (b == nil)
        return op == "eq" ? same : (op == "ne" ? !same : false)
      }
      let order = try compare(a, b)
      switch op {
      case "eq": return order == 0
      case "ne": return order != 0
      case "gt": return order > 0
      case "ge": return order >= 0
      case "lt": return order < 0
      default: return order <= 0
      }
    }
  }

  /// The document number a batch must hold an invoice with to match: `Invoices/any(d: d/DocumentNumber eq '…' …)`,
  /// alone or leftmost of `and`s, at both levels. Leftmost only: `and` stops there, so a batch without that document
  /// never has the rest evaluated and cannot make the filter throw either; reading only the indexed batches answers
  /// exactly what the scan answers.
  var requiredDocument: String? {
    func leftmost(_ n: Node) -> Node {
      if case .and(let a, _) = n { return leftmost(a) }
      return n
    }
    guard case .any("Invoices", let v, let inner) = leftmost(root) else { return nil }
    switch leftmost(inner) {
    case .compare(.property(let p), "eq", .text(let document)) where p == v + "/DocumentNumber": return document
    case .compare(.text(let document), "eq", .property(let p)) where p == v + "/DocumentNumber": return document
    default: return nil
    }
  }

  enum Value { case text(String), number(ExactDecimal), boolean(Bool) }

  private static func compare(_ a: Value, _ b: Value) throws -> Int {
    switch (a, b) {
    case (.text(let x), .text(let y)): return x == y ? 0 : (x < y ? -1 : 1)
    case (.number(let x), .number(let y)): return x == y ? 0 : (x < y ? -1 : 1)
    case (.boolean(let x), .boolean(let y)): return x == y ? 0 : (!x ? -1 : 1)
    default: throw Problem(description: "values of different types cannot be compared")
    }
  }

  /// An operand's value and kind (nil kind: a literal that fits any, such as null).
  private static func resolve(
    _ o: Operand, _ row: [String: Any], _ vars: [String: [String: Any]],
    _ kinds: (String) -> Kind?
  ) throws -> (Value?, Kind?) {
    switch o {
    case .property(let name):
      guard let kind = kinds(name) else { throw Problem(description: "'\(name)' is not a property of this resource") }
      var source = row
      var key = name
      if let slash = name.firstIndex(of: "/"), let bound = vars[String(name[..<slash])] {
        source = bound
        key = String(name[name.index(after: slash)...])
      }
      guard let raw = source[key], !(raw is NSNull) else { return (nil, kind) }
      switch kind {
      case .text: return (.text("\(raw)"), kind)
      case .date: return (.text(normalDate("\(raw)")), kind)
      case .decimal, .integer:
        guard let d = Sage300Simulator.decimal(raw) else { return (nil, kind) }
        return (.number(d), kind)
      }
    case .length(let name):
      let (v, _) = try resolve(.property(name), row, vars, kinds)
      if case .text(let s)? = v { return (.number(ExactDecimal(Int64(s.count))), .integer) }
      return (nil, .integer)
    case .text(let s): return (.text(s), .text)
    case .datetime(let s): return (.text(normalDate(s)), .date)
    case .decimal(let d): return (.number(d), .decimal)
    case .integer(let i): return (.number(ExactDecimal(i)), .integer)
    case .boolean(let b): return (.boolean(b), nil)
    case .null: return (nil, nil)
    }
  }

  /// `2025-01-31`, `2025-01-31T12:00` and `2025-01-31T12:00:00` as one comparable text.
  static func normalDate(_ s: String) -> String {
    var d = String(s.prefix(19)).replacingOccurrences(of: " ", with: "T")
    if d.count == 10 { d += "T00:00:00" } else if d.count == 16 { d += ":00" }
    return d
  }

  private struct Parser {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipSpace() { while at < bytes.count, bytes[at] == 32 { at += 1 } }

    mutating func word() -> String? {
      skipSpace()
      let start = at
      while at < bytes.count, Self.isName(bytes[at]) { at += 1 }
      return at > start ? String(decoding: bytes[start..<at], as: UTF8.self) : nil
    }

    static func isName(_ b: UInt8) -> Bool {
      (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b == 95 || b == 47 || b == 58
    }

    mutating func peekWord() -> String? {
      let saved = at
      defer { at = saved }
      return word()
    }

    mutating func expect(_ c: UInt8) throws {
      skipSpace()
      guard at < bytes.count, bytes[at] == c else {
        throw Problem(description: "'\(Character(Unicode.Scalar(c)))' expected at position \(at + 1) of $filter")
      }
      at += 1
    }

    mutating func expression() throws -> Node {
      var left = try conjunction()
      while peekWord() == "or" {
        _ = word()
        left = .or(left, try conjunction())
      }
      return left
    }

    mutating func conjunction() throws -> Node {
      var left = try unary()
      while peekWord() == "and" {
        _ = word()
        left = .and(left, try unary())
      }
      return left
    }

    mutating func unary() throws -> Node {
      if peekWord() == "not" {
        _ = word()
        return .not(try unary())
      }
      skipSpace()
      if at < bytes.count, bytes[at] == 40 {  // (
        at += 1
        let inner = try expression()
        try expect(41)
        return inner
      }
      let saved = at
      if let name = word() {
        skipSpace()
        if ["startswith", "endswith", "substringof"].contains(name), at < bytes.count, bytes[at] == 40 {
          at += 1
          let a = try operand()
          try expect(44)
          let b = try operand()
          try expect(41)
          return .function(name, [a, b])
        }
        if name.hasSuffix("/any"), at < bytes.count, bytes[at] == 40 {
          at += 1
          guard let variable = word(),
            variable.hasSuffix(":")
              || {
                skipSpace()
                return at < bytes.count && bytes[at] == 58
              }()
          else {
            throw Problem(description: "any(variable: condition) expected")
          }
          var v = variable
          if v.hasSuffix(":") { v.removeLast() } else { try expect(58) }
          let inner = try expression()
          try expect(41)
          return .any(path: String(name.dropLast(4)), variable: v, inner)
        }
      }
      at = saved
      let left = try operand()
      guard let op = word(), ["eq", "ne", "gt", "ge", "lt", "le"].contains(op) else {
        throw Problem(
          description: "a comparison operator (eq, ne, gt, ge, lt, le) expected at position \(at + 1) of $filter")
      }
      return .compare(left, op, try operand())
    }

    mutating func operand() throws -> Operand {
      skipSpace()
      guard at < bytes.count else { throw Problem(description: "$filter ends where a value was expected") }
      if bytes[at] == 39 { return .text(try quoted()) }
      if bytes[at] == 45 || (bytes[at] >= 48 && bytes[at] <= 57) {
        let start = at
        at += 1
        while at < bytes.count, (bytes[at] >= 48 && bytes[at] <= 57) || bytes[at] == 46 { at += 1 }
        let digits = String(decoding: bytes[start..<at], as: UTF8.self)
        if at < bytes.count, bytes[at] == 109 || bytes[at] == 77 {  // m: a decimal
          at += 1
          guard let d = ExactDecimal(digits) else { throw Problem(description: "'\(digits)m' is not a decimal") }
          return .decimal(d)
        }
        guard !digits.contains("."), let i = Int64(digits) else {
          throw Problem(description: "'\(digits)' is a floating-point literal; decimals are written \(digits)m")
        }
        return .integer(i)
      }
      guard let name = word() else { throw Problem(description: "a value expected at position \(at + 1) of $filter") }
      if name == "datetime", at < bytes.count, bytes[at] == 39 {
        let text = try quoted()
        guard SimTime.parse(text) != nil, text.count == 10 || text.count >= 16 else {
          throw Problem(description: "datetime'\(text)' is not a date-time")
        }
        return .datetime(text)
      }
      if name == "length", at < bytes.count, bytes[at] == 40 {
        at += 1
        guard let property = word() else { throw Problem(description: "length(property) expected") }
        try expect(41)
        return .length(property)
      }
      switch name {
      case "true": return .boolean(true)
      case "false": return .boolean(false)
      case "null": return .null
      default: return .property(name)
      }
    }

    mutating func quoted() throws -> String {
      at += 1
      var out: [UInt8] = []
      while at < bytes.count {
        if bytes[at] == 39 {
          if at + 1 < bytes.count, bytes[at + 1] == 39 {
            out.append(39)
            at += 2
            continue
          }
          at += 1
          return String(decoding: out, as: UTF8.self)
        }
        out.append(bytes[at])
        at += 1
      }
      throw Problem(description: "a text literal in $filter is not closed")
    }
  }
}
