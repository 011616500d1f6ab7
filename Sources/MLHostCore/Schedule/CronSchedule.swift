/// A 5-field cron expression (minute hour day-of-month month day-of-week) read in a time zone, with the
/// shorthands @hourly, @daily, @weekly, @monthly and @yearly. Names (jan, mon) and `*/n`, `a-b/n`, lists work.
/// As in Vixie cron, when both day fields are restricted a day matching either one fires.
public struct CronSchedule: Sendable, Equatable {
  public let expression: String
  public let zone: String
  private let minutes: UInt64
  private let hours: UInt32
  private let daysOfMonth: UInt32
  private let months: UInt16
  private let daysOfWeek: UInt8
  private let domRestricted: Bool
  private let dowRestricted: Bool

  private static let shorthands = [
    "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
  ]
  private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
  private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

  public init(_ expression: String, zone: String = "UTC") throws {
    self.expression = expression
    self.zone = zone
    _ = try Timestamp.offset(zone: zone, at: 0)
    let text = Self.shorthands[expression.lowercased()] ?? expression
    let f = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { String($0).lowercased() }
    guard f.count == 5 else {
      throw HostError(
        .input, "cron '\(expression)' needs 5 fields (minute hour day month weekday) or @daily-style shorthand")
    }
    minutes = try Self.field(f[0], 0, 59, [], "minute")
    hours = UInt32(try Self.field(f[1], 0, 23, [], "hour"))
    daysOfMonth = UInt32(try Self.field(f[2], 1, 31, [], "day of month"))
    months = UInt16(try Self.field(f[3], 1, 12, Self.monthNames, "month"))
    var dow = try Self.field(f[4], 0, 7, Self.dayNames, "day of week")
    if dow & (1 << 7) != 0 { dow |= 1 }  // 7 is Sunday too
    daysOfWeek = UInt8(dow & 0x7F)
    domRestricted = f[2] != "*"
    dowRestricted = f[4] != "*"
  }

  private static func field(_ text: String, _ low: Int, _ high: Int, _ names: [String], _ what: String) throws -> UInt64
  {
    func number(_ s: Substring) throws -> Int {
      if let i = names.firstIndex(of: String(s)) { return i + (what == "month" ? 1 : 0) }
      guard let n = Int(s), n >= low, n <= high else {
        throw HostError(.input, "cron \(what) '\(s)' is outside \(low)-\(high)")
      }
      return n
    }
    var mask: UInt64 = 0
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
      guard pieces.count <= 2, !pieces[0].isEmpty else {
        throw HostError(.input, "cron \(what) '\(part)' is malformed")
      }
      var step = 1
      if pieces.count == 2 {
        guard let s = Int(pieces[1]), s > 0 else {
          throw HostError(.input, "cron \(what) step '\(pieces[1])' is malformed")
        }
        step = s
      }
      var from = low
      var to = high
      if pieces[0] != "*" {
        let range = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
        guard range.count <= 2 else { throw HostError(.input, "cron \(what) '\(part)' is malformed") }
        from = try number(range[0])
        to = range.count == 2 ? try number(range[1]) : (pieces.count == 2 ? high : from)
        guard from <= to else { throw HostError(.input, "cron \(what) range '\(pieces[0])' runs backwards") }
      }
      for v in stride(from: from, through: to, by: step) { mask |= 1 << UInt64(v) }
    }
    return mask
  }

  private func dayMatches(days: Int) -> Bool {
    let (_, m, d) = Timestamp.civil(days: days)
    guard months & (1 << UInt16(m)) != 0 else { return false }
    let dow = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday
    let domOK = daysOfMonth & (1 << UInt32(d)) != 0
    let dowOK = daysOfWeek & (1 << UInt8(dow)) != 0
    if domRestricted && dowRestricted { return domOK || dowOK }
    return domOK && dowOK
  }

  /// The first firing strictly after `t` (Unix seconds), or nil when none falls in the next five years.
  public func next(after t: Double) throws -> Double? {
    let offset = Double(try Timestamp.offset(zone: zone, at: t))
    var local = Int(((t + offset) / 60).rounded(.down)) * 60 + 60
    let limit = local + 5 * 366 * 86400
    while local < limit {
      let day = Int((Double(local) / 86400).rounded(.down))
      if dayMatches(days: day) {
        var minuteOfDay = (local - day * 86400) / 60
        while minuteOfDay < 1440 {
          let h = minuteOfDay / 60
          let m = minuteOfDay % 60
          if hours & (1 << UInt32(h)) != 0 && minutes & (1 << UInt64(m)) != 0 {
            let wall = Double(day * 86400 + minuteOfDay * 60)
            let guess = Double(try Timestamp.offset(zone: zone, at: wall - offset))
            let utc = wall - Double(try Timestamp.offset(zone: zone, at: wall - guess))
            if utc > t { return utc }
          }
          minuteOfDay += 1
        }
      }
      local = (day + 1) * 86400
    }
    return nil
  }
}

/// When a scheduled job runs: every fixed interval, or on a cron expression.
public enum ScheduleSpec: Sendable, Equatable, CustomStringConvertible {
  case every(seconds: Double)
  case cron(CronSchedule)

  public var description: String {
    switch self {
    case .every(let s): return "every \(s == s.rounded() ? "\(Int(s))" : "\(s)")s"
    case .cron(let c): return "cron '\(c.expression)' \(c.zone)"
    }
  }

  /// The next run after `t`.
  public func next(after t: Double) throws -> Double? {
    switch self {
    case .every(let s): return t + s
    case .cron(let c): return try c.next(after: t)
    }
  }
}
