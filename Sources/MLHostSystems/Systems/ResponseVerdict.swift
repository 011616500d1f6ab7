import Foundation
import MLHostCore

/// What an exchange's outcome means for retrying it. Throttling answers (429, Shopify's THROTTLED inside a 200,
/// Sage 300's TooManyRequests, 503) mean the server did not act, so any request may be sent again. Gateway
/// errors, timeouts and dropped connections are *ambiguous*: the server may have acted, so only a request that is
/// safe to repeat goes again; for others the caller must look the record up by its natural key first.
package struct ResponseVerdict: Sendable, Equatable {
  package var retryable = false
  /// The server may have acted on the request.
  package var ambiguous = false
  package var throttled = false
  /// Seconds the server asked us to wait (Retry-After, or Shopify's cost arithmetic).
  package var retryAfter: Double?

  static let done = ResponseVerdict()

  init(retryable: Bool = false, ambiguous: Bool = false, throttled: Bool = false, retryAfter: Double? = nil) {
    self.retryable = retryable
    self.ambiguous = ambiguous
    self.throttled = throttled
    self.retryAfter = retryAfter
  }

  init(_ result: Result<HTTPResponse, HostError>, cost: ShopifyCost?) {
    switch result {
    case .failure(let f):
      switch f.token {
      case "connection refused", "dns": self.init(retryable: true)  // never reached the server
      case "timeout", "network": self.init(retryable: true, ambiguous: true)
      default: self.init()  // tls, auth: repeating will not help
      }
    case .success(let r):
      let after = r.header("retry-after").flatMap(Self.seconds)
      switch r.status {
      case 429:
        self.init(retryable: true, throttled: true, retryAfter: after ?? (cost ?? ShopifyCost.parse(r.body))?.wait)
      case 503: self.init(retryable: true, retryAfter: after)
      case 502, 504: self.init(retryable: true, ambiguous: true, retryAfter: after)
      default:
        if Self.contains(r.body, "\"THROTTLED\"") {
          self.init(retryable: true, throttled: true, retryAfter: (cost ?? ShopifyCost.parse(r.body))?.wait)
        } else if r.status >= 400, Self.contains(r.body, "\"TooManyRequests\"") {
          self.init(retryable: true, throttled: true, retryAfter: after)
        } else {
          self.init()
        }
      }
    }
  }

  /// Retry-After: delta seconds or an HTTP date.
  static func seconds(_ value: String) -> Double? {
    if let n = Double(value.trimmingCharacters(in: .whitespaces)) { return max(0, n) }
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "GMT")
    f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
    return f.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
  }

  static func contains(_ body: [UInt8], _ needle: String) -> Bool { offset(of: needle, in: body) != nil }

  /// Where `needle` first occurs in `body`: memchr to the candidates, memcmp to confirm (large pages are
  /// scanned on every response).
  static func offset(of needle: String, in body: [UInt8]) -> Int? {
    let pattern = Array(needle.utf8)
    guard let first = pattern.first, body.count >= pattern.count else { return nil }
    return body.withUnsafeBytes { hay -> Int? in
      pattern.withUnsafeBytes { p -> Int? in
        let base = hay.baseAddress!
        var i = 0
        let last = hay.count - p.count
        while i <= last, let hit = memchr(base + i, Int32(first), last - i + 1) {
          i = base.distance(to: UnsafeRawPointer(hit))
          if memcmp(base + i, p.baseAddress!, p.count) == 0 { return i }
          i += 1
        }
        return nil
      }
    }
  }
}

/// The calculated-cost figures Shopify's GraphQL Admin API puts in `extensions.cost`.
struct ShopifyCost: Sendable, Equatable {
  var requested: Double?
  var available: Double
  var maximum: Double?
  var restoreRate: Double?

  /// How long until the bucket holds the points the throttled query asked for.
  var wait: Double? {
    guard let requested, let restoreRate, restoreRate > 0 else { return nil }
    return max(0, (requested - available) / restoreRate)
  }

  /// Reads the figures without decoding the (possibly large) page: they sit in the trailing `extensions`.
  static func parse(_ body: [UInt8]) -> ShopifyCost? {
    guard let available = number(after: "\"currentlyAvailable\"", in: body) else { return nil }
    return ShopifyCost(
      requested: number(after: "\"requestedQueryCost\"", in: body), available: available,
      maximum: number(after: "\"maximumAvailable\"", in: body), restoreRate: number(after: "\"restoreRate\"", in: body))
  }

  /// The number after `key` and its colon.
  static func number(after key: String, in body: [UInt8]) -> Double? {
    guard let at = ResponseVerdict.offset(of: key, in: body) else { return nil }
    var j = at + key.utf8.count
    while j < body.count, body[j] == 0x20 || body[j] == UInt8(ascii: ":") { j += 1 }
    var end = j
    while end < body.count, let c = Optional(body[end]),
      (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
        || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+")
    { end += 1 }
    return Double(String(decoding: body[j..<end], as: UTF8.self))
  }
}
