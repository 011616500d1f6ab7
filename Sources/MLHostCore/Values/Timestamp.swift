import Foundation

/// Parsing and formatting of the date-time forms the five systems use. Times are Unix seconds (fractions kept
/// to the millisecond); a text without a zone is read in `zone` (UTC unless told).
public enum Timestamp {
  public enum Style: String, CaseIterable, Sendable {
    case iso8601, sql, date, x3, odata
  }

  /// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
  static func days(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146097 + doe - 719468
  }

  static func civil(days z0: Int) -> (year: Int, month: Int, day: Int) {
    let z = z0 + 719468
    let era = (z >= 0 ? z : z - 146096) / 146097
    let doe = z - era * 146097
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp < 10 ? mp + 3 : mp - 9
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
  }

  /// The zone's offset from UTC in seconds at the instant `t`: "UTC", "Z", "+02:00", "-0530" or an IANA name.
  public static func offset(zone: String, at t: Double) throws -> Int {
    if zone == "UTC" || zone == "Z" { return 0 }
    if let fixed = parseOffset(Array(zone.utf8)[...]) { return fixed }
    guard let tz = TimeZone(identifier: zone) else { throw HostError(.input, "unknown time zone '\(zone)'") }
    return tz.secondsFromGMT(for: Date(timeIntervalSince1970: t))
  }

  static func parseOffset(_ s: ArraySlice<UInt8>) -> Int? {
    let b = Array(s)
    guard b.count == 6 || b.count == 5, b[0] == UInt8(ascii: "+") || b[0] == UInt8(ascii: "-") else { return nil }
    let digits = b.dropFirst().filter { $0 != UInt8(ascii: ":") }
    guard digits.count == 4, digits.allSatisfy({ (48...57).contains($0) }), b.count == 5 || b[3] == UInt8(ascii: ":")
    else {
      return nil
    }
    let v = digits.map { Int($0 - 48) }
    let seconds = (v[0] * 10 + v[1]) * 3600 + (v[2] * 10 + v[3]) * 60
    return b[0] == UInt8(ascii: "-") ? -seconds : seconds
  }

  public static func parse(_ text: String, zone: String = "UTC") throws -> Double {
    var s = text.trimmingCharacters(in: .whitespaces)
    if s.hasPrefix("datetime'") && s.hasSuffix("'") && s.count > 10 { s = String(s.dropFirst(9).dropLast()) }
    if s.hasPrefix("@") && s.hasSuffix("@") && s.count > 2 { s = String(s.dropFirst().dropLast()) }
    let b = Array(s.utf8)
    func num(_ from: Int, _ count: Int) -> Int? {
      guard from + count <= b.count else { return nil }
      var v = 0
      for c in b[from..<from + count] {
        guard (48...57).contains(c) else { return nil }
        v = v * 10 + Int(c - 48)
      }
      return v
    }
    guard b.count >= 10, let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2),
      b[7] == UInt8(ascii: "-"), let day = num(8, 2), (1...12).contains(month), (1...31).contains(day)
    else { throw HostError(.input, "'\(text)' is not a date-time this host reads") }
    var seconds = Double(days(year: year, month: month, day: day) * 86400)
    var i = 10
    var explicitOffset: Int?
    if i < b.count {
      guard b[i] == UInt8(ascii: "T") || b[i] == UInt8(ascii: " "), let h = num(i + 1, 2), b.count > i + 3,
        b[i + 3] == UInt8(ascii: ":"), let m = num(i + 4, 2), h < 24, m < 60
      else { throw HostError(.input, "'\(text)' has a malformed time of day") }
      seconds += Double(h * 3600 + m * 60)
      i += 6
      if i < b.count && b[i] == UInt8(ascii: ":") {
        guard let sec = num(i + 1, 2), sec <= 60 else { throw HostError(.input, "'\(text)' has malformed seconds") }
        seconds += Double(sec)
        i += 3
        if i < b.count && (b[i] == UInt8(ascii: ".") || b[i] == UInt8(ascii: ",")) {
          var j = i + 1
          var frac = 0.0
          var scale = 0.1
          while j < b.count, (48...57).contains(b[j]) {
            frac += Double(b[j] - 48) * scale
            scale /= 10
            j += 1
          }
          guard j > i + 1 else { throw HostError(.input, "'\(text)' has a malformed fraction") }
          seconds += (frac * 1000).rounded() / 1000
          i = j
        }
      }
      if i < b.count {
        if b[i] == UInt8(ascii: "Z") && i == b.count - 1 {
          explicitOffset = 0
        } else if let o = parseOffset(b[i...]) {
          explicitOffset = o
        } else {
          throw HostError(.input, "'\(text)' has a malformed zone offset")
        }
      }
    }
    if let o = explicitOffset { return seconds - Double(o) }
    // A local time: the offset in force at that instant (checked twice around a DST change).
    let guess = try offset(zone: zone, at: seconds)
    return seconds - Double(try offset(zone: zone, at: seconds - Double(guess)))
  }

  public static func format(_ t: Double, style: Style = .iso8601, zone: String = "UTC") throws -> String {
    guard t.isFinite, (-62_135_596_800...253_402_300_799).contains(t) else {
      throw HostError(.input, "\(t) is not a time between the years 1 and 9999 (Unix seconds expected)")
    }
    let off = try offset(zone: zone, at: t)
    let local = t + Double(off)
    let whole = local.rounded(.down)
    let millis = Int(((local - whole) * 1000).rounded())
    let day = Int((whole / 86400).rounded(.down))
    let secs = Int(whole) - day * 86400
    let (y, mo, d) = civil(days: day)
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
    let date = "\(String(format: "%04d", y))-\(two(mo))-\(two(d))"
    let time = "\(two(secs / 3600)):\(two(secs / 60 % 60)):\(two(secs % 60))"
    let fraction = millis > 0 ? String(format: ".%03d", min(millis, 999)) : ""
    let zoneText: String
    if off == 0 {
      zoneText = "Z"
    } else {
      let a = abs(off)
      zoneText = (off < 0 ? "-" : "+") + two(a / 3600) + ":" + two(a / 60 % 60)
    }
    switch style {
    case .iso8601: return "\(date)T\(time)\(fraction)\(zoneText)"
    case .sql: return "\(date) \(time)"
    case .date: return date
    case .x3: return "@\(date)T\(time)\(fraction)\(zoneText)@"
    case .odata: return "datetime'\(date)T\(time)'"
    }
  }
}
