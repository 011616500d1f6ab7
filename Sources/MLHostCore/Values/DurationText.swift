/// Durations as people write them in settings and schedules: `90s`, `5m`, `1h30m`, `2d`, `250ms`. Always finite.
public enum DurationText {
  public static func seconds(_ text: String) -> Double? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
    var rest = Substring(text.trimmingCharacters(in: .whitespaces))
    guard !rest.isEmpty else { return nil }
    var total = 0.0
    while !rest.isEmpty {
      let digits = rest.prefix { $0.isNumber || $0 == "." }
      guard !digits.isEmpty, let n = Double(digits) else { return nil }
      rest = rest.dropFirst(digits.count)
      guard
        let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms")) })
      else { return nil }
      rest = rest.dropFirst(unit.count)
      total += n * factor
    }
    // Digits enough to overflow a Double ("1" and 400 zeros) are no duration.
    return total.isFinite ? total : nil
  }
}
