/// Base64 (RFC 4648 §4 and the URL-safe alphabet of §5) and hex, for natives and signature checks.
public enum ByteCodecs {
  private static let standard = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
  private static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
  private static let decodeTable: [UInt8] = {
    var t = [UInt8](repeating: 0xFF, count: 256)
    for (i, c) in standard.enumerated() { t[Int(c)] = UInt8(i) }
    t[Int(UInt8(ascii: "-"))] = 62
    t[Int(UInt8(ascii: "_"))] = 63
    return t
  }()

  public static func base64(_ bytes: some Collection<UInt8>, urlSafe url: Bool = false, padded: Bool = true) -> String {
    let alphabet = url ? urlSafe : standard
    let input = Array(bytes)
    var out: [UInt8] = []
    out.reserveCapacity((input.count + 2) / 3 * 4)
    var i = 0
    while i + 3 <= input.count {
      let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
      out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
      i += 3
    }
    let rest = input.count - i
    if rest > 0 {
      let v = UInt32(input[i]) << 16 | (rest == 2 ? UInt32(input[i + 1]) << 8 : 0)
      out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)]]
      if rest == 2 { out.append(alphabet[Int(v >> 6 & 63)]) }
      if padded { out += Array(repeating: UInt8(ascii: "="), count: 3 - rest) }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Decodes either alphabet, padded or not. Returns nil on any character outside it or a bad length.
  public static func fromBase64(_ text: some Collection<UInt8>) -> [UInt8]? {
    var input = Array(text)
    while input.last == UInt8(ascii: "=") { input.removeLast() }
    guard input.count % 4 != 1, text.count - input.count <= 2 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(input.count * 3 / 4)
    var acc: UInt32 = 0
    var bits = 0
    for c in input {
      let v = decodeTable[Int(c)]
      guard v != 0xFF else { return nil }
      acc = acc << 6 | UInt32(v)
      bits += 6
      if bits >= 8 {
        bits -= 8
        out.append(UInt8(acc >> UInt32(bits) & 0xFF))
      }
    }
    return out
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  public static func hex(_ bytes: some Collection<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
      out.append(hexDigits[Int(b >> 4)])
      out.append(hexDigits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  public static func fromHex(_ text: some Collection<UInt8>) -> [UInt8]? {
    let input = Array(text)
    guard input.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(input.count / 2)
    func nibble(_ c: UInt8) -> UInt8? {
      switch c {
      case 48...57: return c - 48
      case 65...70: return c - 55
      case 97...102: return c - 87
      default: return nil
      }
    }
    var i = 0
    while i < input.count {
      guard let h = nibble(input[i]), let l = nibble(input[i + 1]) else { return nil }
      out.append(h << 4 | l)
      i += 2
    }
    return out
  }
}
