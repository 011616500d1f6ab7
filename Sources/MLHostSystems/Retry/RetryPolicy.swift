import Foundation

/// How failed jobs and records are retried: exponential backoff with full jitter, never sooner than a
/// Retry-After the failure reported, and a dead letter after `maxAttempts`.
public struct RetryPolicy: Sendable {
  public var base: Double = 2
  public var cap: Double = 600
  public var maxAttempts = 8
  /// A uniform draw from 0...ceiling; replaced in tests.
  public var jitter: @Sendable (Double) -> Double = { Double.random(in: 0...max($0, 0)) }

  public init(base: Double = 2, cap: Double = 600, maxAttempts: Int = 8) {
    self.base = base
    self.cap = cap
    self.maxAttempts = maxAttempts
  }

  /// The wait before retry number `attempt + 1`, after `attempt` failed tries.
  public func delay(afterAttempt attempt: Int, retryAfter: Double? = nil) -> Double {
    let ceiling = min(cap, base * pow(2, Double(max(attempt, 1) - 1)))
    return max(jitter(ceiling), retryAfter ?? 0)
  }
}
