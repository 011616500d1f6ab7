/// An exact decimal number: `coefficient / 10^scale`. Money travels as this, never as a binary float.
/// 38 significant digits; an operation whose result does not fit fails instead of rounding silently.
public struct ExactDecimal: Sendable, Hashable, Comparable, CustomStringConvertible {
  public private(set) var coefficient: Int128
  public private(set) var scale: Int

  public static let maxScale = 30

  public enum Rounding: String, Sendable, CaseIterable {
    case halfEven = "half_even"
    case halfUp = "half_up"
    case down, up, floor, ceiling
  }

  public init(coefficient: Int128, scale: Int) {
    self.coefficient = coefficient
    self.scale = scale
  }

  public init(_ integer: Int64) { self.init(coefficient: Int128(integer), scale: 0) }

  /// Parses `-12.50`, `+3`, `.5`, `1e-3` (exponents as JSON writes them). Whitespace and other text are refused.
  public init?(_ text: some StringProtocol) {
    var bytes = Array(text.utf8)[...]
    guard let parsed = Self.parse(&bytes), bytes.isEmpty else { return nil }
    self = parsed
  }

  /// Parses a number from the start of `bytes`, leaving the rest.
  package static func parse(_ bytes: inout ArraySlice<UInt8>) -> ExactDecimal? {
    var negative = false
    if let c = bytes.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
      negative = c == UInt8(ascii: "-")
      bytes = bytes.dropFirst()
    }
    var coef: Int128 = 0
    var digits = 0
    var scale = 0
    var sawPoint = false
    var any = false
    while let c = bytes.first {
      if c >= 48 && c <= 57 {
        any = true
        if coef != 0 || c != 48 { digits += 1 }
        guard digits <= 38 else { return nil }
        coef = coef * 10 + Int128(c - 48)
        if sawPoint { scale += 1 }
      } else if c == UInt8(ascii: ".") && !sawPoint {
        sawPoint = true
      } else {
        break
      }
      bytes = bytes.dropFirst()
    }
    guard any else { return nil }
    if let c = bytes.first, c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
      bytes = bytes.dropFirst()
      var expNegative = false
      if let s = bytes.first, s == UInt8(ascii: "-") || s == UInt8(ascii: "+") {
        expNegative = s == UInt8(ascii: "-")
        bytes = bytes.dropFirst()
      }
      var exp = 0
      var expDigits = 0
      while let d = bytes.first, d >= 48 && d <= 57 {
        exp = min(exp * 10 + Int(d - 48), 1000)
        expDigits += 1
        bytes = bytes.dropFirst()
      }
      guard expDigits > 0 else { return nil }
      scale += expNegative ? exp : -exp
    }
    if scale < 0 {
      guard let scaled = Self.scaleUp(coef, by: -scale) else { return nil }
      coef = scaled
      scale = 0
    }
    guard scale <= maxScale else { return nil }
    return ExactDecimal(coefficient: negative ? -coef : coef, scale: scale)
  }

  public var description: String {
    let magnitude = coefficient.magnitude
    var s = String(magnitude)
    if scale > 0 {
      if s.count <= scale { s = String(repeating: "0", count: scale - s.count + 1) + s }
      s.insert(".", at: s.index(s.endIndex, offsetBy: -scale))
    }
    return coefficient < 0 ? "-" + s : s
  }

  public var isZero: Bool { coefficient == 0 }
  public var sign: Int { coefficient == 0 ? 0 : (coefficient < 0 ? -1 : 1) }
  public var magnitude: ExactDecimal {
    ExactDecimal(coefficient: coefficient < 0 ? -coefficient : coefficient, scale: scale)
  }

  // MARK: arithmetic

  static func pow10(_ n: Int) -> Int128? {
    guard n >= 0, n <= 38 else { return nil }
    var r: Int128 = 1
    for _ in 0..<n { r *= 10 }
    return r
  }

  static func scaleUp(_ c: Int128, by n: Int) -> Int128? {
    guard let p = pow10(n) else { return c == 0 ? 0 : nil }
    let (r, overflow) = c.multipliedReportingOverflow(by: p)
    return overflow ? nil : r
  }

  /// Both operands at the larger scale.
  private static func aligned(_ a: ExactDecimal, _ b: ExactDecimal) throws -> (Int128, Int128, Int) {
    let s = max(a.scale, b.scale)
    guard let x = scaleUp(a.coefficient, by: s - a.scale), let y = scaleUp(b.coefficient, by: s - b.scale) else {
      throw HostError(.input, "decimal overflow aligning \(a) and \(b)")
    }
    return (x, y, s)
  }

  public func adding(_ other: ExactDecimal) throws -> ExactDecimal {
    let (x, y, s) = try Self.aligned(self, other)
    let (r, o) = x.addingReportingOverflow(y)
    guard !o else { throw HostError(.input, "decimal overflow in \(self) + \(other)") }
    return ExactDecimal(coefficient: r, scale: s)
  }

  public func subtracting(_ other: ExactDecimal) throws -> ExactDecimal {
    try adding(ExactDecimal(coefficient: -other.coefficient, scale: other.scale))
  }

  public func multiplied(by other: ExactDecimal) throws -> ExactDecimal {
    let (r, o) = coefficient.multipliedReportingOverflow(by: other.coefficient)
    guard !o else { throw HostError(.input, "decimal overflow in \(self) * \(other)") }
    var result = ExactDecimal(coefficient: r, scale: scale + other.scale)
    if result.scale > Self.maxScale { result = try result.rounded(scale: Self.maxScale, .halfEven) }
    return result
  }

  /// `self / other` at `scale` places, rounded as told: division always says how it rounds.
  public func divided(by other: ExactDecimal, scale target: Int, _ rounding: Rounding) throws -> ExactDecimal {
    guard other.coefficient != 0 else { throw HostError(.input, "division by zero") }
    guard (0...Self.maxScale).contains(target) else { throw HostError(.input, "scale \(target) out of 0...30") }
    // value * 10^target = a.c * 10^(b.s + target) / (b.c * 10^a.s)
    guard let num = Self.scaleUp(coefficient, by: other.scale + target),
      let den = Self.scaleUp(other.coefficient, by: scale)
    else { throw HostError(.input, "decimal overflow in \(self) / \(other)") }
    return ExactDecimal(coefficient: Self.divide(num, den, rounding), scale: target)
  }

  /// Integer division of `n / d` rounded by `rounding`.
  static func divide(_ n: Int128, _ d: Int128, _ rounding: Rounding) -> Int128 {
    let (q, r) = n.quotientAndRemainder(dividingBy: d)
    if r == 0 { return q }
    let negative = (n < 0) != (d < 0)
    let twice = r.magnitude * 2
    let half = twice.compare(to: d.magnitude)
    let awayFromZero: Bool
    switch rounding {
    case .down: awayFromZero = false
    case .up: awayFromZero = true
    case .floor: awayFromZero = negative
    case .ceiling: awayFromZero = !negative
    case .halfUp: awayFromZero = half >= 0
    case .halfEven: awayFromZero = half > 0 || (half == 0 && q % 2 != 0)
    }
    return awayFromZero ? q + (negative ? -1 : 1) : q
  }

  /// This number at exactly `scale` places.
  public func rounded(scale target: Int, _ rounding: Rounding = .halfEven) throws -> ExactDecimal {
    guard (0...Self.maxScale).contains(target) else { throw HostError(.input, "scale \(target) out of 0...30") }
    if target >= scale {
      guard let c = Self.scaleUp(coefficient, by: target - scale) else {
        throw HostError(.input, "decimal overflow rescaling \(self) to \(target) places")
      }
      return ExactDecimal(coefficient: c, scale: target)
    }
    return ExactDecimal(coefficient: Self.divide(coefficient, Self.pow10(scale - target)!, rounding), scale: target)
  }

  public static func < (a: ExactDecimal, b: ExactDecimal) -> Bool {
    guard let (x, y, _) = try? aligned(a, b) else { return a.sign < b.sign || (a.sign == b.sign && a.scale < b.scale) }
    return x < y
  }

  public static func == (a: ExactDecimal, b: ExactDecimal) -> Bool {
    guard let (x, y, _) = try? aligned(a, b) else { return false }
    return x == y
  }

  public func hash(into hasher: inout Hasher) {
    var c = coefficient
    var s = scale
    while s > 0 && c % 10 == 0 {
      c /= 10
      s -= 1
    }
    hasher.combine(c)
    hasher.combine(s)
  }

  /// Splits `self` into parts proportional to `weights`, at `scale` places, losing nothing: the parts sum to
  /// `self` exactly (rounded to `scale` first). Leftover units go to the largest remainders, earlier lines first.
  public func allocated(by weights: [ExactDecimal], scale target: Int) throws -> [ExactDecimal] {
    guard !weights.isEmpty else { throw HostError(.input, "allocation needs at least one weight") }
    guard weights.allSatisfy({ $0.sign >= 0 }) else { throw HostError(.input, "allocation weights must be ≥ 0") }
    let total = try rounded(scale: target, .halfEven)
    let ws = try weights.map { try $0.rounded(scale: weights.map(\.scale).max()!) }.map(\.coefficient)
    let wsum = ws.reduce(0, +)
    guard wsum > 0 else { throw HostError(.input, "allocation weights sum to zero") }
    let units = total.coefficient
    var shares: [Int128] = []
    var remainders: [(Int128, Int)] = []
    for (i, w) in ws.enumerated() {
      let (p, o) = units.magnitude == 0 ? (0, false) : Int128(units.magnitude).multipliedReportingOverflow(by: w)
      guard !o else { throw HostError(.input, "decimal overflow allocating \(self)") }
      let (q, r) = p.quotientAndRemainder(dividingBy: wsum)
      shares.append(q)
      remainders.append((r, i))
    }
    var left = Int128(units.magnitude) - shares.reduce(0, +)
    for (_, i) in remainders.sorted(by: { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }) where left > 0 {
      shares[i] += 1
      left -= 1
    }
    return shares.map { ExactDecimal(coefficient: units < 0 ? -$0 : $0, scale: target) }
  }
}

extension UInt128 {
  fileprivate func compare(to other: UInt128) -> Int { self < other ? -1 : (self == other ? 0 : 1) }
}
