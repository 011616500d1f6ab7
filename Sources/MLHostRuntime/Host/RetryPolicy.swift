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

/// What the host gives a VM so jobs can reach the store.
public struct JobRuntime: Sendable {
  public var store: any JobStore
  public var retry: RetryPolicy
  public var now: @Sendable () -> Double
  /// Applies credentials to HTTP requests; nil when the host has no vault.
  public var authenticator: Authenticator?
  /// Set in a dry run: mutating requests are recorded here instead of sent.
  public var journal: DryRunJournal?
  /// Where outbound requests are counted for `/metrics`, under a host.
  public var metrics: HostMetrics?

  public init(store: any JobStore, retry: RetryPolicy = RetryPolicy(), authenticator: Authenticator? = nil,
              journal: DryRunJournal? = nil, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
    self.store = store
    self.retry = retry
    self.authenticator = authenticator
    self.journal = journal
    self.now = now
  }
}
