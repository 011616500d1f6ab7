import Foundation

/// A clock tests move by hand, for retries, leases and schedules.
public final class ManualClock: @unchecked Sendable {
  private let lock = NSLock()
  private var t: Double

  public init(_ start: Double = 1_736_690_531) { t = start }

  public var now: Double { lock.withLock { t } }
  public func advance(_ seconds: Double) { lock.withLock { t += seconds } }
}
