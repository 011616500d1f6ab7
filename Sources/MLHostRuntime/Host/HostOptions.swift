import Foundation
import MLHostCore
import MLHostSystems

public struct HostOptions: Sendable {
  /// How long running jobs may take to finish at shutdown, or on a retired version after a reload.
  public var grace: Double = 30
  /// Reload when a loaded file changes.
  public var watch = true
  /// Jobs of one connector running at once on this host.
  public var concurrency = 16
  /// How long a claimed job stays this host's without renewal; a crashed host's jobs run again after it.
  public var leaseSeconds: Double = 60
  /// How often the dispatcher looks for work queued by other processes when nothing woke it.
  public var pollInterval: Double = 0.25
  public var retry = RetryPolicy()
  /// How long succeeded jobs and webhook delivery ids are kept. A delivery id older than this is taken as new, so
  /// it must outlast every sender's retries (Shopify's: 4 hours). The audit trail and dead letters are kept.
  public var retention: Double = 7 * 86_400
  /// How often the scheduler's loop prunes what `retention` lets go.
  public var pruneInterval: Double = 3_600
  /// The clock; tests replace it.
  public var now: @Sendable () -> Double = { Date().timeIntervalSince1970 }
  /// Set for a dry run: mutating requests are journaled here instead of sent.
  public var journal: DryRunJournal?
  /// This host's name on the leases it takes.
  public var owner = "\(ProcessInfo.processInfo.hostName)-\(getpid())-\(Digest.uuid4().prefix(8))"

  public init(grace: Double = 30, watch: Bool = true, concurrency: Int = 16) {
    self.grace = grace
    self.watch = watch
    self.concurrency = concurrency
  }
}
