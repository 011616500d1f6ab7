import Foundation
import MLHostCore
import MLHostLua
import MLHostVM

extension NativeModule {
  static let time = NativeModule(
    "time",
    "UTC time as Unix seconds (milliseconds kept as a fraction). Reads ISO 8601 with or without offset, "
      + "`2025-01-12 14:02:11`, `datetime'…'` (OData) and X3's `@…@`; a text without a zone is read in `zone`.",
    functions: [
      NativeFunction("now", "The current time.", returns: [("number", "Unix seconds")], nowNative),
      NativeFunction(
        "parse", "Reads a date-time; malformed text returns nil, \"bad time\", details.",
        params: [
          ("text", "string", ""),
          ("zone", "string?", "zone of a text without one: UTC (default), +02:00, Europe/Paris"),
        ],
        returns: [("number?", "Unix seconds"), ("string?", "\"bad time\""), ("string?", "why")], parseNative),
      NativeFunction(
        "format",
        "Writes a time: iso8601 (default, `2025-01-12T14:02:11Z`), sql (`2025-01-12 14:02:11`), date, "
          + "x3 (`@2025-01-12T14:02:11Z@`) or odata (`datetime'2025-01-12T14:02:11'`).",
        params: [("t", "number", "Unix seconds"), ("style", "string?", ""), ("zone", "string?", "default UTC")],
        returns: [("string", "")], formatNative),
    ])
}

private let nowNative: NativeBody = { L, _ in
  L.push((Date().timeIntervalSince1970 * 1000).rounded() / 1000)
  return .one
}

private let parseNative: NativeBody = { L, _ in
  let text = try L.string(arg: 1, of: "parse")
  let zone = L.string(at: 2) ?? "UTC"
  do {
    let t = try Timestamp.parse(text, zone: zone)
    if t == t.rounded() { L.push(Int64(t)) } else { L.push(t) }
    return .one
  } catch {
    L.pushNil()
    L.push("bad time")
    L.push("\(error)")
    return .values(3)
  }
}

private let formatNative: NativeBody = { L, _ in
  guard let t = L.number(at: 1) else { throw HostError.argument(1, "format", "Unix seconds expected") }
  var style = Timestamp.Style.iso8601
  if !L.isNoneOrNil(2) {
    guard let s = L.string(at: 2), let parsed = Timestamp.Style(rawValue: s) else {
      throw HostError.argument(
        2, "format", "style must be one of " + Timestamp.Style.allCases.map(\.rawValue).joined(separator: ", "))
    }
    style = parsed
  }
  do {
    L.push(try Timestamp.format(t, style: style, zone: L.string(at: 3) ?? "UTC"))
    return .one
  } catch {
    throw HostError.misuse("\(error)")
  }
}
