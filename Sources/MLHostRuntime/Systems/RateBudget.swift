import Foundation
import Synchronization

/// A leaky bucket that may go into debt: `take` always succeeds and answers how long the caller must wait for
/// its share, so concurrent callers queue up in order instead of failing. It serves both a request-rate token
/// bucket (cost 1 per request) and Shopify's calculated-cost bucket (cost = the query's points), where the
/// server's own view of the bucket replaces ours whenever a response reports it.
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

  /// What the server said it has left; requests we sent that it has not seen yet are not double-counted because
  /// the server's figure is the truth as of its answer.
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

/// At most `limit` holders at once; the others wait in arrival order.
final class AsyncGate: Sendable {
  private struct State {
    var free: Int
    var waiting: [CheckedContinuation<Void, Never>] = []
  }
  private let state: Mutex<State>

  init(limit: Int) { state = Mutex(State(free: limit)) }

  func enter() async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let admitted = state.withLock { s -> Bool in
        if s.free > 0 {
          s.free -= 1
          return true
        }
        s.waiting.append(c)
        return false
      }
      if admitted { c.resume() }
    }
  }

  func leave() {
    let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
      if s.waiting.isEmpty {
        s.free += 1
        return nil
      }
      return s.waiting.removeFirst()
    }
    next?.resume()
  }
}
