import Foundation

/// A GraphQL value after variables are substituted. Objects keep their keys' order, because an Xtrem `orderBy`
/// string sorts by its keys in the order written.
indirect enum GraphQLValue {
  case null
  case bool(Bool)
  case int(Int)
  /// A non-integer number, kept as written so money stays exact.
  case number(String)
  case string(String)
  case enumValue(String)
  case list([GraphQLValue])
  case object([(String, GraphQLValue)])

  /// The value as the simulators' rows hold values (String, Int, Bool, arrays, dictionaries).
  var plain: Any {
    switch self {
    case .null: return NSNull()
    case .bool(let b): return b
    case .int(let i): return i
    case .number(let s), .string(let s), .enumValue(let s): return s
    case .list(let xs): return xs.map(\.plain)
    case .object(let pairs): return Dictionary(pairs.map { ($0.0, $0.1.plain) }, uniquingKeysWith: { _, last in last })
    }
  }

  subscript(key: String) -> GraphQLValue? {
    if case .object(let pairs) = self { return pairs.last { $0.0 == key }?.1 }
    return nil
  }

  /// Converts a decoded JSON variable.
  init(json: Any) {
    switch json {
    case let s as String: self = .string(s)
    case let b as Bool where !(json is NSNumber): self = .bool(b)
    case let n as NSNumber where String(cString: n.objCType) == "c": self = .bool(n.boolValue)  // JSON true/false
    case let n as NSNumber:
      let text = n.stringValue
      self = Int(text).map(GraphQLValue.int) ?? .number(text)
    case let xs as [Any]: self = .list(xs.map(GraphQLValue.init(json:)))
    case let d as [String: Any]:
      self = .object(d.sorted { $0.key < $1.key }.map { ($0.key, GraphQLValue(json: $0.value)) })
    default: self = .null
    }
  }
}

/// One field of a selection: its arguments and, for objects, what is selected under it.
struct GraphQLField {
  var name: String
  var arguments: [String: GraphQLValue]
  var selection: [GraphQLField]

  func argument(_ name: String) -> GraphQLValue? { arguments[name] }
}

struct GraphQLSyntaxError: Error, CustomStringConvertible {
  let description: String
}

/// Just enough GraphQL for the sandbox: one query or mutation (named or not, with variable definitions), fields
/// with arguments, aliases skipped, nested selections, and literal values. Fragments and directives are refused.
/// The same value syntax reads Xtrem's filter strings, whose keys are unquoted and strings single-quoted.
struct GraphQLDocument {
  var isMutation = false
  var fields: [GraphQLField] = []

  init(_ text: String, variables: [String: Any]) throws {
    var p = GraphQLParser(text, variables: variables)
    p.skipSpace()
    if let word = p.peekName(), word == "query" || word == "mutation" {
      isMutation = word == "mutation"
      _ = p.name()
      p.skipSpace()
      if p.peekName() != nil { _ = p.name() }
      p.skipSpace()
      if p.peek == UInt8(ascii: "(") { try p.skipVariableDefinitions() }
    }
    fields = try p.selectionSet()
    p.skipSpace()
    guard p.atEnd else { throw p.error("unexpected text after the operation") }
  }

  /// Parses a value written in GraphQL/JSON5-like syntax, as Xtrem's `filter` and `orderBy` strings are.
  static func value(_ text: String) throws -> GraphQLValue {
    var p = GraphQLParser(text, variables: [:])
    let v = try p.value()
    p.skipSpace()
    guard p.atEnd else { throw p.error("unexpected text after the value") }
    return v
  }
}

private struct GraphQLParser {
  let bytes: [UInt8]
  let variables: [String: Any]
  var i = 0

  init(_ text: String, variables: [String: Any]) {
    bytes = Array(text.utf8)
    self.variables = variables
  }

  var atEnd: Bool { i >= bytes.count }
  var peek: UInt8? { atEnd ? nil : bytes[i] }

  func error(_ message: String) -> GraphQLSyntaxError {
    let line = bytes[..<min(i, bytes.count)].reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
    return GraphQLSyntaxError(description: "Syntax Error: \(message) (line \(line), offset \(i))")
  }

  mutating func skipSpace() {
    while let c = peek {
      if c == UInt8(ascii: "#") {
        while let d = peek, d != 10 { i += 1 }
      } else if c == 32 || c == 9 || c == 10 || c == 13 || c == UInt8(ascii: ",") {
        i += 1
      } else {
        return
      }
    }
  }

  static func isNameByte(_ c: UInt8, first: Bool) -> Bool {
    (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || (!first && c >= 48 && c <= 57)
  }

  func peekName() -> String? {
    var j = i
    while j < bytes.count, Self.isNameByte(bytes[j], first: j == i) { j += 1 }
    return j > i ? String(decoding: bytes[i..<j], as: UTF8.self) : nil
  }

  mutating func name() -> String {
    let start = i
    while let c = peek, Self.isNameByte(c, first: i == start) { i += 1 }
    return String(decoding: bytes[start..<i], as: UTF8.self)
  }

  mutating func expect(_ c: Character) throws {
    skipSpace()
    guard peek == c.asciiValue else { throw error("expected \(c)") }
    i += 1
  }

  mutating func skipVariableDefinitions() throws {
    var depth = 0
    repeat {
      guard let c = peek else { throw error("unclosed variable definitions") }
      if c == UInt8(ascii: "(") { depth += 1 } else if c == UInt8(ascii: ")") { depth -= 1 }
      i += 1
    } while depth > 0
  }

  mutating func selectionSet() throws -> [GraphQLField] {
    try expect("{")
    var fields: [GraphQLField] = []
    while true {
      skipSpace()
      if peek == UInt8(ascii: "}") {
        i += 1
        return fields
      }
      if peek == UInt8(ascii: ".") || peek == UInt8(ascii: "@") {
        throw error("fragments and directives are not supported")
      }
      var fieldName = name()
      guard !fieldName.isEmpty else { throw error("expected a field name") }
      skipSpace()
      if peek == UInt8(ascii: ":") {  // an alias: the answer uses the field's own name here
        i += 1
        skipSpace()
        fieldName = name()
        skipSpace()
      }
      var arguments: [String: GraphQLValue] = [:]
      if peek == UInt8(ascii: "(") {
        i += 1
        while true {
          skipSpace()
          if peek == UInt8(ascii: ")") {
            i += 1
            break
          }
          let key = name()
          guard !key.isEmpty else { throw error("expected an argument name") }
          try expect(":")
          arguments[key] = try value()
        }
        skipSpace()
      }
      let selection = peek == UInt8(ascii: "{") ? try selectionSet() : []
      fields.append(GraphQLField(name: fieldName, arguments: arguments, selection: selection))
    }
  }

  mutating func value() throws -> GraphQLValue {
    skipSpace()
    guard let c = peek else { throw error("expected a value") }
    switch c {
    case UInt8(ascii: "$"):
      i += 1
      let v = name()
      guard let json = variables[v] else { return .null }
      return GraphQLValue(json: json)
    case UInt8(ascii: "\""), UInt8(ascii: "'"):
      return .string(try string(quote: c))
    case UInt8(ascii: "["):
      i += 1
      var items: [GraphQLValue] = []
      while true {
        skipSpace()
        if peek == UInt8(ascii: "]") {
          i += 1
          return .list(items)
        }
        items.append(try value())
      }
    case UInt8(ascii: "{"):
      i += 1
      var pairs: [(String, GraphQLValue)] = []
      while true {
        skipSpace()
        if peek == UInt8(ascii: "}") {
          i += 1
          return .object(pairs)
        }
        let key: String
        if let q = peek, q == UInt8(ascii: "\"") || q == UInt8(ascii: "'") {
          key = try string(quote: q)
        } else {
          key = name()
        }
        guard !key.isEmpty else { throw error("expected a key") }
        try expect(":")
        pairs.append((key, try value()))
      }
    case UInt8(ascii: "-"), 48...57:
      let start = i
      i += 1
      var integral = true
      while let d = peek,
        (48...57).contains(d) || d == UInt8(ascii: ".") || d == UInt8(ascii: "e") || d == UInt8(ascii: "E")
          || d == UInt8(ascii: "+") || d == UInt8(ascii: "-")
      {
        if !(48...57).contains(d) { integral = false }
        i += 1
      }
      let text = String(decoding: bytes[start..<i], as: UTF8.self)
      if integral, let n = Int(text) { return .int(n) }
      guard Double(text) != nil else { throw error("bad number \(text)") }
      return .number(text)
    default:
      let word = name()
      switch word {
      case "": throw error("unexpected character")
      case "true": return .bool(true)
      case "false": return .bool(false)
      case "null": return .null
      default: return .enumValue(word)
      }
    }
  }

  mutating func string(quote: UInt8) throws -> String {
    i += 1
    var out: [UInt8] = []
    while let c = peek {
      i += 1
      if c == quote { return String(decoding: out, as: UTF8.self) }
      if c == UInt8(ascii: "\\"), let e = peek {
        i += 1
        switch e {
        case UInt8(ascii: "n"): out.append(10)
        case UInt8(ascii: "t"): out.append(9)
        case UInt8(ascii: "r"): out.append(13)
        case UInt8(ascii: "u"):
          guard i + 4 <= bytes.count, let scalar = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16),
            let u = Unicode.Scalar(scalar)
          else { throw error("bad \\u escape") }
          out += Array(String(Character(u)).utf8)
          i += 4
        default: out.append(e)
        }
      } else {
        out.append(c)
      }
    }
    throw error("unterminated string")
  }
}
