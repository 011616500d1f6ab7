import Foundation

/// The api1 `where` and `orderBy` parameters: comparisons (`eq ne gt ge lt le`) of a property with a quoted
/// string, an `@date-time@` or a number, joined by `and`/`or` with parentheses, and the API facts' functions
/// `upper(PROP)` and `left(PROP, N)`. An unknown property or function is an error, as on X3 (which answers 500).
struct X3Where {
  indirect enum Node {
    case compare(property: String, upper: Bool, op: String, value: Literal, left: Int? = nil)
    case and(Node, Node)
    case or(Node, Node)
  }

  enum Literal {
    case text(String)
    case time(Double)
    case number(Double)
  }

  struct Failure: Error, CustomStringConvertible { let description: String }

  let root: Node

  init(_ text: String) throws {
    var p = Parser(tokens: try Self.tokens(text))
    root = try p.expression()
    guard p.i == p.tokens.count else { throw Failure(description: "unexpected '\(p.tokens[p.i])' in where") }
  }

  func matches(_ row: [String: Any], properties: Set<String>) throws -> Bool { try Self.eval(root, row, properties) }

  static func eval(_ n: Node, _ row: [String: Any], _ properties: Set<String>) throws -> Bool {
    switch n {
    case .and(let a, let b): return try eval(a, row, properties) && eval(b, row, properties)
    case .or(let a, let b): return try eval(a, row, properties) || eval(b, row, properties)
    case .compare(let property, let upper, let op, let value, let left):
      guard properties.contains(property) else { throw Failure(description: "Property \(property) does not exist") }
      let order: ComparisonResult
      switch value {
      case .text(let t):
        var v = "\(row[property] ?? "")"
        if upper { v = v.uppercased() }
        if let left { v = String(v.prefix(left)) }
        order = v == t ? .orderedSame : (v < t ? .orderedAscending : .orderedDescending)
      case .time(let t):
        let v = (row[property] as? String).flatMap(SimTime.parse) ?? 0
        order = v == t ? .orderedSame : (v < t ? .orderedAscending : .orderedDescending)
      case .number(let x):
        let v = (row[property] as? NSNumber)?.doubleValue ?? Double("\(row[property] ?? "")") ?? 0
        order = v == x ? .orderedSame : (v < x ? .orderedAscending : .orderedDescending)
      }
      switch op {
      case "eq": return order == .orderedSame
      case "ne": return order != .orderedSame
      case "gt": return order == .orderedDescending
      case "ge": return order != .orderedAscending
      case "lt": return order == .orderedAscending
      default: return order != .orderedDescending
      }
    }
  }

  static func tokens(_ text: String) throws -> [String] {
    var out: [String] = []
    var i = text.startIndex
    while i < text.endIndex {
      let c = text[i]
      if c.isWhitespace {
        i = text.index(after: i)
      } else if c == "(" || c == ")" || c == "," {
        out.append(String(c))
        i = text.index(after: i)
      } else if c == "'" || c == "@" {
        var j = text.index(after: i)
        var value = String(c)
        while j < text.endIndex {
          if text[j] == c {
            let next = text.index(after: j)
            if c == "'", next < text.endIndex, text[next] == "'" {  // '' is a quote inside a string
              value.append("'")
              j = text.index(after: next)
              continue
            }
            break
          }
          value.append(text[j])
          j = text.index(after: j)
        }
        guard j < text.endIndex else { throw Failure(description: "unterminated \(c) in where") }
        out.append(value + String(c))
        i = text.index(after: j)
      } else {
        var j = i
        while j < text.endIndex, !text[j].isWhitespace, !"(),'@".contains(text[j]) { j = text.index(after: j) }
        out.append(String(text[i..<j]))
        i = j
      }
    }
    return out
  }

  struct Parser {
    let tokens: [String]
    var i = 0

    mutating func next() throws -> String {
      guard i < tokens.count else { throw Failure(description: "where ends too early") }
      defer { i += 1 }
      return tokens[i]
    }

    mutating func expression() throws -> Node {
      var left = try term()
      while i < tokens.count, ["and", "or"].contains(tokens[i].lowercased()) {
        let op = try next().lowercased()
        let right = try term()
        left = op == "and" ? .and(left, right) : .or(left, right)
      }
      return left
    }

    mutating func term() throws -> Node {
      if tokens[safe: i] == "(" {
        i += 1
        let inner = try expression()
        guard try next() == ")" else { throw Failure(description: "')' expected in where") }
        return inner
      }
      var property = try next()
      var upper = false
      var left: Int?
      if tokens[safe: i] == "(" {
        let function = property.lowercased()
        i += 1
        property = try next()
        switch function {
        case "upper": upper = true
        case "left":
          guard try next() == ",", let n = Int(try next()), n >= 0 else {
            throw Failure(description: "left(PROPERTY, N) expected in where")
          }
          left = n
        default: throw Failure(description: "Function \(function) does not exist")
        }
        guard try next() == ")" else { throw Failure(description: "')' expected after \(function)(") }
      }
      let op = try next().lowercased()
      guard ["eq", "ne", "gt", "ge", "lt", "le"].contains(op) else {
        throw Failure(description: "unknown operator '\(op)' in where")
      }
      let raw = try next()
      let value: Literal
      if raw.hasPrefix("'") {
        value = .text(String(raw.dropFirst().dropLast()))
      } else if raw.hasPrefix("@") {
        let inner = String(raw.dropFirst().dropLast())
        guard let t = SimTime.parse(inner) ?? SimTime.parse(inner + "T00:00:00Z") else {
          throw Failure(description: "bad date \(raw) in where")
        }
        value = .time(t)
      } else if let n = Double(raw) {
        value = .number(n)
      } else {
        throw Failure(description: "a literal expected after \(property) \(op), got '\(raw)'")
      }
      return .compare(property: property, upper: upper, op: op, value: value, left: left)
    }
  }
}

extension Array {
  subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
