import Foundation
import MLHostStore
import MLHostSystems

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

  public init(
    store: any JobStore, retry: RetryPolicy = RetryPolicy(), authenticator: Authenticator? = nil,
    journal: DryRunJournal? = nil, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
  ) {
    self.store = store
    self.retry = retry
    self.authenticator = authenticator
    self.journal = journal
    self.now = now
  }
}
