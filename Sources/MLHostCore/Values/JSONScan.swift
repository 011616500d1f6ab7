/// Validates JSON without building anything, and picks out the top-level `"id"` on the way: what the webhook
/// ingress needs to refuse malformed bodies and to order deliveries of one resource.
public enum JSONScan {
  public struct Result {
    public var valid: Bool
    /// The raw text of the top-level object's "id" (a number, or a string's contents).
    public var topLevelID: String?
  }

  /// Whether `text` is one JSON value (an object, array, string, number, boolean or null).
  public static func isJSON(_ text: String) -> Bool {
    Array(text.utf8).withUnsafeBytes { scan($0).valid }
  }

  public static func scan(_ bytes: UnsafeRawBufferPointer) -> Result {
    var s = Scanner(bytes: bytes)
    s.space()
    guard s.value(depth: 0, captureID: true) else { return Result(valid: false, topLevelID: nil) }
    s.space()
    return Result(valid: s.i == bytes.count, topLevelID: s.id)
  }

  /// Module-internal so that other scans (`JSONMemberOrder`) walk JSON with the same rules.
  struct Scanner {
    let bytes: UnsafeRawBufferPointer
    var i = 0
    var id: String?

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var c: UInt8 { i < bytes.count ? bytes[i] : 0 }

    mutating func space() {
      while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int, captureID: Bool = false) -> Bool {
      guard depth < 512 else { return false }
      switch c {
      case UInt8(ascii: "{"): return object(depth: depth, captureID: captureID)
      case UInt8(ascii: "["): return array(depth: depth)
      case UInt8(ascii: "\""): return string() != nil
      case UInt8(ascii: "t"): return literal("true")
      case UInt8(ascii: "f"): return literal("false")
      case UInt8(ascii: "n"): return literal("null")
      default: return number()
      }
    }

    mutating func literal(_ word: String) -> Bool {
      for b in word.utf8 {
        guard c == b else { return false }
        i += 1
      }
      return true
    }

    /// Skips a string; returns the range of its contents (escapes left as they are).
    mutating func string() -> Range<Int>? {
      i += 1
      let start = i
      while i < bytes.count {
        switch bytes[i] {
        case UInt8(ascii: "\""):
          i += 1
          return start..<(i - 1)
        case UInt8(ascii: "\\"):
          guard escape() else { return nil }
        case 0..<0x20:
          return nil
        default:
          i += 1
        }
      }
      return nil
    }

    /// Skips one escape, backslash included, accepting exactly what the decoder does: the short escapes, and
    /// `\uXXXX` with surrogates only as a high-low pair. (Skipping any two bytes let `"\x"` and lone surrogates
    /// through to jobs whose `json.decode` then refused the payload: found by the json fuzzer.)
    mutating func escape() -> Bool {
      i += 1
      guard i < bytes.count else { return false }
      let e = bytes[i]
      i += 1
      switch e {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
        return true
      case UInt8(ascii: "u"):
        guard let code = hex4() else { return false }
        if JSONText.lowSurrogates.contains(code) { return false }
        guard JSONText.highSurrogates.contains(code) else { return true }
        guard c == UInt8(ascii: "\\"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "u") else { return false }
        i += 2
        guard let low = hex4() else { return false }
        return JSONText.lowSurrogates.contains(low)
      default:
        return false
      }
    }

    mutating func hex4() -> UInt32? {
      guard bytes.count - i >= 4 else { return nil }
      var v: UInt32 = 0
      for _ in 0..<4 {
        guard let d = JSONText.hexValue(bytes[i]) else { return nil }
        v = v << 4 | d
        i += 1
      }
      return v
    }

    mutating func number() -> Bool {
      let start = i
      if c == UInt8(ascii: "-") { i += 1 }
      guard (48...57).contains(c) else { return false }
      if c == 48 { i += 1 } else { while (48...57).contains(c) { i += 1 } }
      if c == UInt8(ascii: ".") {
        i += 1
        guard (48...57).contains(c) else { return false }
        while (48...57).contains(c) { i += 1 }
      }
      if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
        i += 1
        if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { i += 1 }
        guard (48...57).contains(c) else { return false }
        while (48...57).contains(c) { i += 1 }
      }
      return i > start
    }

    mutating func object(depth: Int, captureID: Bool) -> Bool {
      i += 1
      space()
      if c == UInt8(ascii: "}") {
        i += 1
        return true
      }
      while true {
        space()
        guard c == UInt8(ascii: "\""), let key = string() else { return false }
        space()
        guard c == UInt8(ascii: ":") else { return false }
        i += 1
        space()
        let isID =
          captureID && key.count == 2 && bytes[key.lowerBound] == UInt8(ascii: "i")
          && bytes[key.lowerBound + 1] == UInt8(ascii: "d")
        let valueStart = i
        guard value(depth: depth + 1) else { return false }
        if isID {
          var r = valueStart..<i
          if bytes[valueStart] == UInt8(ascii: "\"") { r = (valueStart + 1)..<(i - 1) }
          id = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[r]), as: UTF8.self)
        }
        space()
        if c == UInt8(ascii: ",") {
          i += 1
          continue
        }
        guard c == UInt8(ascii: "}") else { return false }
        i += 1
        return true
      }
    }

    mutating func array(depth: Int) -> Bool {
      i += 1
      space()
      if c == UInt8(ascii: "]") {
        i += 1
        return true
      }
      while true {
        space()
        guard value(depth: depth + 1) else { return false }
        space()
        if c == UInt8(ascii: ",") {
          i += 1
          continue
        }
        guard c == UInt8(ascii: "]") else { return false }
        i += 1
        return true
      }
    }
  }
}

/// JSON string escaping into a byte buffer, shared by the Lua encoder and the webhook ingress.
package enum JSONText {
  /// `s` as a JSON string literal, quotes included: for text that is built as a String (log lines, simulated
  /// answers) rather than as bytes.
  package static func quoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
      default: out.unicodeScalars.append(u)
      }
    }
    return out + "\""
  }

  private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
  package static let highSurrogates: Range<UInt32> = 0xD800..<0xDC00
  package static let lowSurrogates: Range<UInt32> = 0xDC00..<0xE000

  /// A hex digit's value, for `\u` escapes.
  @inline(__always) package static func hexValue(_ c: UInt8) -> UInt32? {
    switch c {
    case 48...57: UInt32(c - 48)
    case 65...70: UInt32(c - 55)
    case 97...102: UInt32(c - 87)
    default: nil
    }
  }

  package static func appendString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    out.append(UInt8(ascii: "\""))
    var runStart = 0
    for (i, c) in bytes.enumerated() where c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
      out.append(contentsOf: bytes[runStart..<i])
      runStart = i + 1
      switch c {
      case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
      case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
      case 0x0A: out.append(contentsOf: "\\n".utf8)
      case 0x0D: out.append(contentsOf: "\\r".utf8)
      case 0x09: out.append(contentsOf: "\\t".utf8)
      default:
        out.append(contentsOf: "\\u00".utf8)
        out.append(hex[Int(c >> 4)])
        out.append(hex[Int(c & 15)])
      }
    }
    out.append(contentsOf: bytes[runStart...])
    out.append(UInt8(ascii: "\""))
  }

  package static func appendString(_ s: String, to out: inout [UInt8]) {
    var s = s
    s.withUTF8 { appendString(UnsafeRawBufferPointer($0), to: &out) }
  }
}
