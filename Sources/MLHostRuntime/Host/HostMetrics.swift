import Foundation

/// Counters and latency histograms for the Prometheus text on the admin port. Job and record totals by state come
/// from the store (they span restarts and hosts); these count what this process did.
public final class HostMetrics: @unchecked Sendable {
  private let lock = NSLock()
  private var jobs: [String: Int] = [:]
  private var deliveries: [String: Int] = [:]
  private var jobLatency = Histogram()
  private var ingestLatency = Histogram()

  struct Histogram {
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    var counts = [Int](repeating: 0, count: bounds.count)
    var sum = 0.0
    var count = 0

    mutating func observe(_ seconds: Double) {
      for (i, b) in Self.bounds.enumerated() where seconds <= b { counts[i] += 1 }
      sum += seconds
      count += 1
    }

    func lines(_ name: String) -> [String] {
      var out = Self.bounds.enumerated().map { "\(name)_bucket{le=\"\($0.element)\"} \(counts[$0.offset])" }
      out.append("\(name)_bucket{le=\"+Inf\"} \(count)")
      out.append("\(name)_sum \(sum)")
      out.append("\(name)_count \(count)")
      return out
    }
  }

  func jobFinished(connector: String, ok: Bool, seconds: Double) {
    lock.withLock {
      jobs["connector=\"\(connector)\",result=\"\(ok ? "succeeded" : "failed")\"", default: 0] += 1
      jobLatency.observe(seconds)
    }
  }

  /// A webhook delivery answered with `result` (queued, duplicate, ping, rejected_signature, too_large, ...).
  public func delivery(connector: String, result: String, seconds: Double) {
    lock.withLock {
      deliveries["connector=\"\(connector)\",result=\"\(result)\"", default: 0] += 1
      ingestLatency.observe(seconds)
    }
  }

  /// The Prometheus text exposition of these metrics and the store's totals.
  public func prometheus(store: StoreStats) -> String {
    lock.withLock {
      var out: [String] = []
      out.append("# HELP mlhost_jobs Jobs in the durable queue by state.")
      out.append("# TYPE mlhost_jobs gauge")
      for (state, n) in store.jobsByState.sorted(by: { $0.key < $1.key }) { out.append("mlhost_jobs{state=\"\(state)\"} \(n)") }
      out.append("# HELP mlhost_records Audited records by outcome.")
      out.append("# TYPE mlhost_records gauge")
      for (o, n) in store.recordsByOutcome.sorted(by: { $0.key < $1.key }) { out.append("mlhost_records{outcome=\"\(o)\"} \(n)") }
      out.append("# HELP mlhost_records_unresolved Rejected or failed records no later run has resolved.")
      out.append("# TYPE mlhost_records_unresolved gauge")
      out.append("mlhost_records_unresolved \(store.unresolvedFailures)")
      out.append("# HELP mlhost_job_runs_total Job runs finished by this process.")
      out.append("# TYPE mlhost_job_runs_total counter")
      for (k, n) in jobs.sorted(by: { $0.key < $1.key }) { out.append("mlhost_job_runs_total{\(k)} \(n)") }
      out.append("# HELP mlhost_job_seconds Job run time.")
      out.append("# TYPE mlhost_job_seconds histogram")
      out += jobLatency.lines("mlhost_job_seconds")
      out.append("# HELP mlhost_webhook_deliveries_total Webhook deliveries by result.")
      out.append("# TYPE mlhost_webhook_deliveries_total counter")
      for (k, n) in deliveries.sorted(by: { $0.key < $1.key }) { out.append("mlhost_webhook_deliveries_total{\(k)} \(n)") }
      out.append("# HELP mlhost_webhook_ingest_seconds Time from request to answer.")
      out.append("# TYPE mlhost_webhook_ingest_seconds histogram")
      out += ingestLatency.lines("mlhost_webhook_ingest_seconds")
      return out.joined(separator: "\n") + "\n"
    }
  }
}
