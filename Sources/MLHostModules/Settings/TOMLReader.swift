import MLHostCore
import MLHostLua

/// A TOML 1.0 reader for deployment settings files. Values map onto Lua values: tables become maps, arrays
/// become arrays, date-times stay text. Errors name the line.
public struct TOMLReader {
  /// A table while it is being built: tables are shared by reference so `[a.b]` headers can reopen them.
  private final class Table {
    enum Entry {
      case value(LuaValue)
      case table(Table)
      case tables([Table])
    }

    var entries: [String: Entry] = [:]
    /// Defined by a header or a dotted key; a second header for it is an error.
    var explicitlyDefined = false

    var luaValue: LuaValue {
      .map(
        Dictionary(
          uniqueKeysWithValues: entries.map { key, entry in
            let v: LuaValue
            switch entry {
            case .value(let x): v = x
            case .table(let t): v = t.luaValue
            case .tables(let ts): v = .array(ts.map(\.luaValue))
            }
            return (LuaValue.text(key), v)
          }))
    }
  }

  private let b: [UInt8]
  private var i = 0
  private var line = 1
  private let root = Table()
  /// The table that `key = value` lines go to.
  private var current: Table
  /// How deep `current` is below the root.
  private var currentDepth = 0
  /// How deep the value or key being read lies below the root: tables, arrays and dotted-key parts each count one.
  /// Reading and converting are recursive, so a deeper file is refused instead of overflowing the stack (a 200 KB
  /// line of `[` or of `a.a.a…` crashed the host).
  private var depth = 0
  public static let maxDepth = 100
  /// Its path as settings name it (`x3`, `rules[2]`).
  private var currentPath = ""
  /// The line of every key and table header, by the path settings validation names it with (`x3.url`).
  private var lines: [String: Int] = [:]

  public static func parse(_ text: String) throws -> LuaValue {
    try parseWithLines(text).value
  }

  /// The value and the line that defines each key or table, by dotted path (`x3.url`; an array of tables'
  /// elements as `rules[1]`), so that settings problems can point at the file's line.
  public static func parseWithLines(_ text: String) throws -> (value: LuaValue, lines: [String: Int]) {
    var r = TOMLReader(bytes: Array(text.utf8))
    try r.document()
    return (r.root.luaValue, r.lines)
  }

  private static func join(_ base: String, _ path: [String]) -> String {
    ([base].filter { !$0.isEmpty } + path).joined(separator: ".")
  }

  private init(bytes: [UInt8]) {
    b = bytes
    current = root
  }

  private func fail(_ m: String) -> HostError { HostError(.input, m, line: line) }
  private var atEnd: Bool { i >= b.count }
  private var c: UInt8 { i < b.count ? b[i] : 0 }

  private mutating func skipBlank() {
    while !atEnd && (c == 0x20 || c == 0x09) { i += 1 }
  }

  private mutating func skipComment() {
    if c == UInt8(ascii: "#") { while !atEnd && c != 0x0A { i += 1 } }
  }

  private mutating func endOfLine() throws {
    skipBlank()
    skipComment()
    if c == 0x0D { i += 1 }
    guard atEnd || c == 0x0A else { throw fail("unexpected text after a value") }
    if !atEnd {
      i += 1
      line += 1
    }
  }

  private mutating func document() throws {
    while !atEnd {
      skipBlank()
      skipComment()
      if c == 0x0D { i += 1 }
      if c == 0x0A {
        i += 1
        line += 1
        continue
      }
      if atEnd { break }
      if c == UInt8(ascii: "[") {
        let arrayTable = i + 1 < b.count && b[i + 1] == UInt8(ascii: "[")
        i += arrayTable ? 2 : 1
        skipBlank()
        depth = 0
        let path = try key()
        skipBlank()
        guard c == UInt8(ascii: "]") else { throw fail("expected ']' after a table name") }
        i += 1
        if arrayTable {
          guard c == UInt8(ascii: "]") else { throw fail("expected ']]' after an array-of-tables name") }
          i += 1
          try appendTable(path)
        } else {
          try openTable(path)
          currentPath = Self.join("", path)
        }
        currentDepth = path.count
        lines[currentPath] = line
        try endOfLine()
        continue
      }
      depth = currentDepth
      let path = try key()
      skipBlank()
      guard c == UInt8(ascii: "=") else { throw fail("expected '=' after key '\(path.joined(separator: "."))'") }
      i += 1
      skipBlank()
      depth += path.count
      let keyLine = line
      let v = try value()
      try assign(path, v, in: current)
      lines[Self.join(currentPath, path)] = keyLine
      try endOfLine()
    }
  }

  private mutating func key() throws -> [String] {
    var parts: [String] = []
    while true {
      skipBlank()
      if c == UInt8(ascii: "\"") {
        parts.append(try basicString())
      } else if c == UInt8(ascii: "'") {
        parts.append(try literalString())
      } else {
        let start = i
        while !atEnd, c.isBareKey { i += 1 }
        guard i > start else { throw fail("expected a key") }
        parts.append(String(decoding: b[start..<i], as: UTF8.self))
      }
      guard depth + parts.count <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
      skipBlank()
      guard c == UInt8(ascii: ".") else { return parts }
      i += 1
    }
  }

  private mutating func enter() throws {
    depth += 1
    guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
  }

  // MARK: building the tree

  /// The table at `path` below `start`, created as needed; an array of tables resolves to its last element.
  private func table(at path: ArraySlice<String>, from start: Table) throws -> Table {
    var t = start
    for name in path {
      switch t.entries[name] {
      case nil:
        let n = Table()
        t.entries[name] = .table(n)
        t = n
      case .table(let n)?: t = n
      case .tables(let ts)?: t = ts.last!
      case .value?: throw fail("'\(name)' is already a value, not a table")
      }
    }
    return t
  }

  private mutating func openTable(_ path: [String]) throws {
    let t = try table(at: path[...], from: root)
    guard !t.explicitlyDefined else { throw fail("table [\(path.joined(separator: "."))] defined twice") }
    t.explicitlyDefined = true
    current = t
  }

  private mutating func appendTable(_ path: [String]) throws {
    let parent = try table(at: path.dropLast(), from: root)
    let n = Table()
    var count = 1
    switch parent.entries[path.last!] {
    case nil: parent.entries[path.last!] = .tables([n])
    case .tables(let ts)?:
      parent.entries[path.last!] = .tables(ts + [n])
      count = ts.count + 1
    default: throw fail("'\(path.joined(separator: "."))' is not an array of tables")
    }
    current = n
    currentPath = Self.join("", path) + "[\(count)]"
  }

  private func assign(_ path: [String], _ value: LuaValue, in start: Table) throws {
    let t = try table(at: path.dropLast(), from: start)
    guard t.entries[path.last!] == nil else { throw fail("key '\(path.joined(separator: "."))' set twice") }
    t.entries[path.last!] = .value(value)
  }

  // MARK: values

  private mutating func value() throws -> LuaValue {
    switch c {
    case UInt8(ascii: "\""):
      if b[i...].starts(with: Array("\"\"\"".utf8)) { return .text(try multilineString(quote: UInt8(ascii: "\""))) }
      return .text(try basicString())
    case UInt8(ascii: "'"):
      if b[i...].starts(with: Array("'''".utf8)) { return .text(try multilineString(quote: UInt8(ascii: "'"))) }
      return .text(try literalString())
    case UInt8(ascii: "["): return try array()
    case UInt8(ascii: "{"): return try inlineTable()
    default: return try scalar()
    }
  }

  private mutating func basicString() throws -> String {
    i += 1
    var out: [UInt8] = []
    while true {
      guard !atEnd, c != 0x0A else { throw fail("unterminated string") }
      let ch = c
      i += 1
      if ch == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
      if ch == UInt8(ascii: "\\") { try escape(into: &out) } else { out.append(ch) }
    }
  }

  private mutating func escape(into out: inout [UInt8]) throws {
    let e = c
    i += 1
    switch e {
    case UInt8(ascii: "n"): out.append(0x0A)
    case UInt8(ascii: "t"): out.append(0x09)
    case UInt8(ascii: "r"): out.append(0x0D)
    case UInt8(ascii: "b"): out.append(0x08)
    case UInt8(ascii: "f"): out.append(0x0C)
    case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
    case UInt8(ascii: "u"), UInt8(ascii: "U"):
      let n = e == UInt8(ascii: "u") ? 4 : 8
      guard i + n <= b.count, let code = UInt32(String(decoding: b[i..<i + n], as: UTF8.self), radix: 16),
        let scalar = Unicode.Scalar(code)
      else { throw fail("invalid \\u escape") }
      i += n
      out.append(contentsOf: String(Character(scalar)).utf8)
    default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
    }
  }

  private mutating func literalString() throws -> String {
    i += 1
    let start = i
    while !atEnd && c != UInt8(ascii: "'") {
      guard c != 0x0A else { throw fail("unterminated string") }
      i += 1
    }
    guard !atEnd else { throw fail("unterminated string") }
    defer { i += 1 }
    return String(decoding: b[start..<i], as: UTF8.self)
  }

  private mutating func multilineString(quote: UInt8) throws -> String {
    i += 3
    if c == 0x0A {
      i += 1
      line += 1
    }
    var out: [UInt8] = []
    while !atEnd {
      if c == quote && i + 2 < b.count + 0 && b[i + 1] == quote && b[i + 2] == quote {
        i += 3
        return String(decoding: out, as: UTF8.self)
      }
      let ch = c
      i += 1
      if ch == 0x0A { line += 1 }
      if ch == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
        if c == 0x0A || c == 0x20 || c == 0x0D {
          while !atEnd && (c == 0x0A || c == 0x20 || c == 0x09 || c == 0x0D) {
            if c == 0x0A { line += 1 }
            i += 1
          }
        } else {
          try escape(into: &out)
        }
      } else {
        out.append(ch)
      }
    }
    throw fail("unterminated multi-line string")
  }

  private mutating func skipArrayBlank() {
    while !atEnd {
      skipBlank()
      skipComment()
      if c == 0x0D {
        i += 1
      } else if c == 0x0A {
        i += 1
        line += 1
      } else {
        return
      }
    }
  }

  private mutating func array() throws -> LuaValue {
    try enter()
    defer { depth -= 1 }
    i += 1
    var items: [LuaValue] = []
    while true {
      skipArrayBlank()
      if c == UInt8(ascii: "]") {
        i += 1
        return .array(items)
      }
      items.append(try value())
      skipArrayBlank()
      if c == UInt8(ascii: ",") {
        i += 1
      } else if c != UInt8(ascii: "]") {
        throw fail("expected ',' or ']' in an array")
      }
    }
  }

  private mutating func inlineTable() throws -> LuaValue {
    try enter()
    defer { depth -= 1 }
    i += 1
    let table = Table()
    skipBlank()
    if c == UInt8(ascii: "}") {
      i += 1
      return .map([:])
    }
    while true {
      skipBlank()
      let path = try key()
      skipBlank()
      guard c == UInt8(ascii: "=") else { throw fail("expected '=' in an inline table") }
      i += 1
      skipBlank()
      depth += path.count
      let v = try value()
      depth -= path.count
      try assign(path, v, in: table)
      skipBlank()
      if c == UInt8(ascii: ",") {
        i += 1
        continue
      }
      guard c == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in an inline table") }
      i += 1
      return table.luaValue
    }
  }

  private mutating func scalar() throws -> LuaValue {
    let start = i
    while !atEnd, c != 0x0A, c != UInt8(ascii: ","), c != UInt8(ascii: "]"), c != UInt8(ascii: "}"),
      c != UInt8(ascii: "#")
    {
      i += 1
    }
    var text = String(decoding: b[start..<i], as: UTF8.self)
    while text.last == " " || text.last == "\t" || text.last == "\r" { text.removeLast() }
    switch text {
    case "true": return .boolean(true)
    case "false": return .boolean(false)
    case "inf", "+inf": return .number(.infinity)
    case "-inf": return .number(-.infinity)
    case "nan", "+nan", "-nan": return .number(.nan)
    case "": throw fail("expected a value")
    default: break
    }
    let plain = text.replacingOccurrences(of: "_", with: "")
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] where plain.hasPrefix(prefix) {
      guard let v = Int64(plain.dropFirst(2), radix: radix) else { throw fail("invalid integer '\(text)'") }
      return .integer(v)
    }
    if let v = Int64(plain) { return .integer(v) }
    let first = text.first!
    if first.isNumber, text.count >= 8, text.contains("-") || text.contains(":") {
      return .text(text)  // a date or time, kept as text
    }
    if let d = Double(plain), plain.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { return .number(d) }
    throw fail("'\(text)' is not a TOML value (text needs quotes)")
  }
}

extension UInt8 {
  fileprivate var isBareKey: Bool {
    (self >= 65 && self <= 90) || (self >= 97 && self <= 122) || (self >= 48 && self <= 57) || self == 45 || self == 95
  }
}
