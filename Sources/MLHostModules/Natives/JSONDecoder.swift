import Glibc
import MLHostCore
import MLHostLua

/// Decodes JSON straight onto a Lua stack, reading the Lua string's own bytes (NUL-terminated by Lua).
package struct LuaJSONDecoder {
  package struct Failure: Error {
    package let message: String
    package let offset: Int
  }

  let L: LuaState
  let start: UnsafePointer<UInt8>
  let end: UnsafePointer<UInt8>
  var p: UnsafePointer<UInt8>
  /// Non-integer numbers become exact decimals instead of floats.
  let decimals: Bool
  var depth = 0
  static let maxDepth = 512

  package init(L: LuaState, bytes: UnsafeRawBufferPointer, decimals: Bool) {
    self.L = L
    start = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    end = start + bytes.count
    p = start
    self.decimals = decimals
  }

  package mutating func decodeDocument() throws {
    skipSpace()
    try value()
    skipSpace()
    if p < end { throw fail("unexpected text after the JSON value") }
  }

  func fail(_ message: String) -> Failure { Failure(message: message, offset: p - start) }

  @inline(__always) mutating func skipSpace() {
    while p < end {
      let c = p.pointee
      guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
      p += 1
    }
  }

  mutating func value() throws {
    guard p < end else { throw fail("unexpected end of input") }
    switch p.pointee {
    case UInt8(ascii: "{"): try object()
    case UInt8(ascii: "["): try array()
    case UInt8(ascii: "\""): try string()
    case UInt8(ascii: "t"):
      try literal("true")
      L.push(true)
    case UInt8(ascii: "f"):
      try literal("false")
      L.push(false)
    case UInt8(ascii: "n"):
      try literal("null")
      L.push(lightUserdata: JSONNull.pointer)
    case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
    default: throw fail("unexpected character '\(Character(Unicode.Scalar(p.pointee)))'")
    }
  }

  mutating func literal(_ word: StaticString) throws {
    let n = word.utf8CodeUnitCount
    guard end - p >= n, memcmp(p, word.utf8Start, n) == 0 else { throw fail("invalid literal") }
    p += n
  }

  mutating func enter() throws {
    depth += 1
    guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
    guard L.checkStack(4) else { throw fail("out of Lua stack space") }
  }

  mutating func object() throws {
    try enter()
    p += 1
    L.newTable(array: 0, hash: 4)
    skipSpace()
    if p < end && p.pointee == UInt8(ascii: "}") {
      p += 1
      JSONNull.mark(L, empty: .object)
      depth -= 1
      return
    }
    while true {
      skipSpace()
      guard p < end, p.pointee == UInt8(ascii: "\"") else { throw fail("expected a string key") }
      try string()
      skipSpace()
      guard p < end, p.pointee == UInt8(ascii: ":") else { throw fail("expected ':' after an object key") }
      p += 1
      skipSpace()
      try value()
      L.rawSet(-3)
      skipSpace()
      guard p < end else { throw fail("unexpected end of input in an object") }
      let c = p.pointee
      p += 1
      if c == UInt8(ascii: ",") { continue }
      if c == UInt8(ascii: "}") { break }
      p -= 1
      throw fail("expected ',' or '}' in an object")
    }
    depth -= 1
  }

  mutating func array() throws {
    try enter()
    p += 1
    L.newTable(array: 4, hash: 0)
    skipSpace()
    if p < end && p.pointee == UInt8(ascii: "]") {
      p += 1
      JSONNull.mark(L, empty: .array)
      depth -= 1
      return
    }
    var i: Int64 = 1
    while true {
      skipSpace()
      try value()
      L.rawSet(-2, i)
      i += 1
      skipSpace()
      guard p < end else { throw fail("unexpected end of input in an array") }
      let c = p.pointee
      p += 1
      if c == UInt8(ascii: ",") { continue }
      if c == UInt8(ascii: "]") { break }
      p -= 1
      throw fail("expected ',' or ']' in an array")
    }
    depth -= 1
  }

  mutating func string() throws {
    p += 1
    let begin = p
    // Fast path: no escapes, pushed straight from the input.
    while p < end {
      let c = p.pointee
      if c == UInt8(ascii: "\"") {
        L.push(bytes: UnsafeRawBufferPointer(start: begin, count: p - begin))
        p += 1
        return
      }
      if c == UInt8(ascii: "\\") { break }
      if c < 0x20 { throw fail("control character in a string") }
      p += 1
    }
    var buffer = [UInt8](UnsafeBufferPointer(start: begin, count: p - begin))
    while p < end {
      let c = p.pointee
      p += 1
      switch c {
      case UInt8(ascii: "\""):
        buffer.withUnsafeBytes { L.push(bytes: $0) }
        return
      case UInt8(ascii: "\\"):
        guard p < end else { break }
        let e = p.pointee
        p += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(e)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"): try unicodeEscape(into: &buffer)
        default: throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
        }
      case 0..<0x20:
        throw fail("control character in a string")
      default:
        buffer.append(c)
      }
    }
    throw fail("unterminated string")
  }

  mutating func hex4() throws -> UInt32 {
    guard end - p >= 4 else { throw fail("truncated \\u escape") }
    var v: UInt32 = 0
    for _ in 0..<4 {
      guard let d = JSONText.hexValue(p.pointee) else { throw fail("invalid \\u escape") }
      p += 1
      v = v << 4 | d
    }
    return v
  }

  mutating func unicodeEscape(into buffer: inout [UInt8]) throws {
    var code = try hex4()
    if JSONText.highSurrogates.contains(code) {
      guard end - p >= 6, p[0] == UInt8(ascii: "\\"), p[1] == UInt8(ascii: "u") else {
        throw fail("lone surrogate in \\u escape")
      }
      p += 2
      let low = try hex4()
      guard JSONText.lowSurrogates.contains(low) else { throw fail("invalid surrogate pair") }
      code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
    } else if JSONText.lowSurrogates.contains(code) {
      throw fail("lone surrogate in \\u escape")
    }
    buffer.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
  }

  mutating func number() throws {
    let begin = p
    var integral = true
    if p.pointee == UInt8(ascii: "-") { p += 1 }
    guard p < end, (48...57).contains(p.pointee) else { throw fail("invalid number") }
    if p.pointee == 48 {
      p += 1
    } else {
      while p < end && (48...57).contains(p.pointee) { p += 1 }
    }
    if p < end && p.pointee == UInt8(ascii: ".") {
      integral = false
      p += 1
      guard p < end, (48...57).contains(p.pointee) else { throw fail("invalid number") }
      while p < end && (48...57).contains(p.pointee) { p += 1 }
    }
    if p < end && (p.pointee == UInt8(ascii: "e") || p.pointee == UInt8(ascii: "E")) {
      integral = false
      p += 1
      if p < end && (p.pointee == UInt8(ascii: "+") || p.pointee == UInt8(ascii: "-")) { p += 1 }
      guard p < end, (48...57).contains(p.pointee) else { throw fail("invalid number") }
      while p < end && (48...57).contains(p.pointee) { p += 1 }
    }
    let count = p - begin
    if integral && count <= 18 {
      var v: Int64 = 0
      var q = begin
      let negative = q.pointee == UInt8(ascii: "-")
      if negative { q += 1 }
      while q < p {
        v = v &* 10 &+ Int64(q.pointee &- 48)
        q += 1
      }
      L.push(negative ? -v : v)
      return
    }
    if integral || decimals {
      var slice = ArraySlice(UnsafeBufferPointer(start: begin, count: count))
      if let d = ExactDecimal.parse(&slice) {
        if integral, d.coefficient >= Int128(Int64.min), d.coefficient <= Int128(Int64.max) {
          L.push(Int64(d.coefficient))
          return
        }
        if decimals {
          d.push(L)
          return
        }
      }
    }
    L.push(Self.fastDouble(begin, p) ?? strtod(UnsafeRawPointer(begin).assumingMemoryBound(to: CChar.self), nil))
  }

  private static let powersOfTen: [Double] = (0...22).map { pow(10, Double($0)) }

  /// Clinger's fast path: with at most 15 significant digits and a decimal exponent within ±22, one
  /// multiplication or division of exact doubles gives the correctly rounded value. Nil when it does not apply.
  @inline(__always)
  static func fastDouble(_ begin: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Double? {
    var q = begin
    let negative = q.pointee == UInt8(ascii: "-")
    if negative { q += 1 }
    var mantissa: Int64 = 0
    var digits = 0
    var exponent = 0
    var afterPoint = false
    while q < end {
      let c = q.pointee
      if c >= 48 && c <= 57 {
        if mantissa != 0 || c != 48 { digits += 1 }
        guard digits <= 15 else { return nil }
        mantissa = mantissa * 10 + Int64(c - 48)
        if afterPoint { exponent -= 1 }
      } else if c == UInt8(ascii: ".") {
        afterPoint = true
      } else {
        break
      }
      q += 1
    }
    if q < end {  // an exponent part
      q += 1
      var expNegative = false
      if q.pointee == UInt8(ascii: "-") || q.pointee == UInt8(ascii: "+") {
        expNegative = q.pointee == UInt8(ascii: "-")
        q += 1
      }
      var e = 0
      while q < end {
        e = e * 10 + Int(q.pointee - 48)
        guard e < 1000 else { return nil }
        q += 1
      }
      exponent += expNegative ? -e : e
    }
    guard exponent >= -22 && exponent <= 22 else { return nil }
    var v = Double(mantissa)
    v = exponent < 0 ? v / powersOfTen[-exponent] : v * powersOfTen[exponent]
    return negative ? -v : v
  }
}
