import Foundation
import Synchronization

/// A leaky bucket that may go into debt: `take` always succeeds and answers how long the caller must wait for
/// its share, so concurrent callers queue up in order instead of failing. It serves both a request-rate token
/// bucket (cost 1 per request) and Shopify's calculated-cost bucket (cost = the query's points, see `CostBudget`).
struct LeakyBucket: Sendable {
  var capacity: Double
  var rate: Double
  var level: Double
  var stamp: Double

  init(capacity: Double, rate: Double, now: Double) {
    self.capacity = capacity
    self.rate = rate
    self.level = capacity
    self.stamp = now
  }

  /// Takes `cost` and answers the seconds to wait before using it.
  mutating func take(_ cost: Double, now: Double) -> Double {
    refill(now)
    level -= cost
    return level >= 0 ? 0 : -level / rate
  }

  /// Sets the level to what the server says it has left (minus what the caller knows it has not counted yet).
  mutating func observe(available: Double, capacity: Double?, rate: Double?, now: Double) {
    if let capacity, capacity > 0 { self.capacity = capacity }
    if let rate, rate > 0 { self.rate = rate }
    level = min(available, self.capacity)
    stamp = now
  }

  private mutating func refill(_ now: Double) {
    level = min(capacity, level + max(0, now - stamp) * rate)
    stamp = now
  }
}

/// Shopify's calculated-cost bucket as this host believes it stands. The server's figure in each answer is the
/// truth only as of that answer: the points of requests still outstanding here — sent, or waiting their turn —
/// are taken from it again. Some of those the server may have counted already; erring that way waits a little
/// longer, while forgetting them let waiting requests and new ones go out together and be throttled.
struct CostBudget: Sendable {
  var bucket: LeakyBucket
  private(set) var outstanding = 0.0

  init(capacity: Double, rate: Double, now: Double) { bucket = LeakyBucket(capacity: capacity, rate: rate, now: now) }

  /// Takes `points` for a request and answers how long it must wait before it is sent.
  mutating func take(_ points: Double, now: Double) -> Double {
    outstanding += points
    return bucket.take(points, now: now)
  }

  /// The request that took `points` has its answer, with the server's account of the bucket if it gave one.
  mutating func answered(_ points: Double, server: ShopifyCost?, now: Double) {
    outstanding = max(0, outstanding - points)
    guard let server else { return }
    bucket.observe(
      available: server.available - outstanding, capacity: server.maximum, rate: server.restoreRate, now: now)
  }
}

/// At most `limit` holders at once; the others wait in arrival order. A holder's work runs at once when there is
/// room, else on the thread of the holder whose `leave` lets it in.
final class ConcurrencyGate: Sendable {
  private struct State {
    var free: Int
    var waiting: [@Sendable () -> Void] = []
  }
  private let state: Mutex<State>

  init(limit: Int) { state = Mutex(State(free: limit)) }

  func enter(_ work: @escaping @Sendable () -> Void) {
    let admitted = state.withLock { s -> Bool in
      if s.free > 0 {
        s.free -= 1
        return true
      }
      s.waiting.append(work)
      return false
    }
    if admitted { work() }
  }

  func leave() {
    let next = state.withLock { s -> (@Sendable () -> Void)? in
      if s.waiting.isEmpty {
        s.free += 1
        return nil
      }
      return s.waiting.removeFirst()
    }
    next?()
  }
}
