import Foundation
import MLHostStore

/// Counters and latency histograms for the Prometheus text on the admin port. Job and record totals by state come
/// from the store (they span restarts and hosts); these count what this process did.
public final class HostMetrics: @unchecked Sendable {
  private let lock = NSLock()
  private var jobs: [String: Int] = [:]
  private var deliveries: [String: Int] = [:]
  /// Job run time by `connector="..",job=".."`.
  private var jobLatency: [String: Histogram] = [:]
  private var ingestLatency = Histogram()
  /// Outbound requests by `connector, system, class` (2xx..5xx, or `error` when no answer came).
  private var requests: [String: Int] = [:]
  private var requestLatency: [String: Histogram] = [:]
  private var retries: [String: Int] = [:]
  private var throttles: [String: Int] = [:]
  private var tokenRefreshes: [String: Int] = [:]
  /// Records this process wrote, by `connector, kind, outcome`: what a connector reports as a record (a disabled
  /// webhook, a rejected order) can be alerted on by kind.
  private var records: [String: Int] = [:]

  public init() {}

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

    /// The exposition lines; `labels` (`a="x",b="y"`, or empty) go on every series.
    func lines(_ name: String, labels: String = "") -> [String] {
      let l = labels.isEmpty ? "" : labels + ","
      let braced = labels.isEmpty ? "" : "{\(labels)}"
      var out = Self.bounds.enumerated().map { "\(name)_bucket{\(l)le=\"\($0.element)\"} \(counts[$0.offset])" }
      out.append("\(name)_bucket{\(l)le=\"+Inf\"} \(count)")
      out.append("\(name)_sum\(braced) \(sum)")
      out.append("\(name)_count\(braced) \(count)")
      return out
    }
  }

  /// Label values are escaped as Prometheus wants them (`\\`, `\"`, newline). Counted on every job run and record,
  /// so a value with nothing to escape (all of them, in practice) is taken as it is, without Foundation's search.
  static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
    pairs.map { k, v in
      guard v.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return "\(k)=\"\(v)\"" }
      var escaped = ""
      for c in v.unicodeScalars {
        switch c {
        case "\\": escaped += "\\\\"
        case "\"": escaped += "\\\""
        case "\n": escaped += "\\n"
        default: escaped.unicodeScalars.append(c)
        }
      }
      return "\(k)=\"\(escaped)\""
    }.joined(separator: ",")
  }

  /// A job run's time, by connector and job.
  package func jobRan(connector: String, job: String, seconds: Double) {
    lock.withLock {
      jobLatency[Self.labels(["connector": connector, "job": job]), default: Histogram()].observe(seconds)
    }
  }

  /// How a job run ended: `succeeded`, `retry` (failed, queued again) or `dead` (dead-lettered).
  package func jobFinished(connector: String, job: String, result: String) {
    lock.withLock { jobs[Self.labels(["connector": connector, "job": job, "result": result]), default: 0] += 1 }
  }

  /// One attempt of an outbound request: its status class (`2xx`, ..., `error` without an answer), its time, and
  /// whether it will be retried (with the reason) or was throttled.
  func request(connector: String, system: String, status: Int?, seconds: Double, retryReason: String?, throttled: Bool)
  {
    let statusClass = status.map { "\($0 / 100)xx" } ?? "error"
    let who = Self.labels(["connector": connector, "system": system])
    lock.withLock {
      requests[who + "," + Self.labels(["class": statusClass]), default: 0] += 1
      requestLatency[Self.labels(["system": system, "class": statusClass]), default: Histogram()].observe(seconds)
      if let retryReason { retries[who + "," + Self.labels(["reason": retryReason]), default: 0] += 1 }
      if throttled { throttles[who, default: 0] += 1 }
    }
  }

  /// A token the host fetched for a credential.
  func tokenRefreshed(connector: String, system: String) {
    lock.withLock { tokenRefreshes[Self.labels(["connector": connector, "system": system]), default: 0] += 1 }
  }

  /// Record kinds come from scripts: past this many series the rest count under `kind="other"`, so a script
  /// that names a kind per record cannot grow the host's memory or the exposition without bound.
  static let recordSeriesLimit = 1000

  /// A record written with `outcome`.
  public func record(connector: String, kind: String, outcome: String) {
    lock.withLock {
      var key = Self.labels(["connector": connector, "kind": kind, "outcome": outcome])
      if records[key] == nil, records.count >= Self.recordSeriesLimit {
        key = Self.labels(["connector": connector, "kind": "other", "outcome": outcome])
      }
      records[key, default: 0] += 1
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
      for (state, n) in store.jobsByState.sorted(by: { $0.key < $1.key }) {
        out.append("mlhost_jobs{state=\"\(state)\"} \(n)")
      }
      out.append("# HELP mlhost_records Audited records by outcome.")
      out.append("# TYPE mlhost_records gauge")
      for (o, n) in store.recordsByOutcome.sorted(by: { $0.key < $1.key }) {
        out.append("mlhost_records{outcome=\"\(o)\"} \(n)")
      }
      out.append("# HELP mlhost_records_unresolved Rejected or failed records no later run has resolved.")
      out.append("# TYPE mlhost_records_unresolved gauge")
      out.append("mlhost_records_unresolved \(store.unresolvedFailures)")
      func counter(_ name: String, _ help: String, _ series: [String: Int]) {
        out.append("# HELP \(name) \(help)")
        out.append("# TYPE \(name) counter")
        for (k, n) in series.sorted(by: { $0.key < $1.key }) { out.append("\(name){\(k)} \(n)") }
      }
      func histograms(_ name: String, _ help: String, _ series: [String: Histogram]) {
        out.append("# HELP \(name) \(help)")
        out.append("# TYPE \(name) histogram")
        for (k, h) in series.sorted(by: { $0.key < $1.key }) { out += h.lines(name, labels: k) }
      }
      counter(
        "mlhost_job_runs_total",
        "Job runs finished by this process, by connector, job and result (succeeded, retry, dead).", jobs)
      histograms("mlhost_job_seconds", "Job run time by connector and job.", jobLatency)
      counter(
        "mlhost_http_requests_total",
        "Outbound request attempts by connector, system and status class (error: no answer).", requests)
      histograms(
        "mlhost_http_request_seconds", "Outbound request attempt time by system and status class.", requestLatency)
      counter(
        "mlhost_http_retries_total", "Outbound request attempts the host retries, by connector, system and reason.",
        retries)
      counter(
        "mlhost_http_throttled_total",
        "Outbound answers that said to slow down (429, Shopify THROTTLED), by connector and system.", throttles)
      counter(
        "mlhost_http_token_refreshes_total", "Access tokens the host fetched, by connector and system.", tokenRefreshes)
      counter(
        "mlhost_records_written_total",
        "Records this process wrote, by connector, record kind and outcome (alert on a kind: a disabled webhook).",
        records)
      out.append("# HELP mlhost_webhook_deliveries_total Webhook deliveries by result.")
      out.append("# TYPE mlhost_webhook_deliveries_total counter")
      for (k, n) in deliveries.sorted(by: { $0.key < $1.key }) {
        out.append("mlhost_webhook_deliveries_total{\(k)} \(n)")
      }
      out.append("# HELP mlhost_webhook_ingest_seconds Time from request to answer.")
      out.append("# TYPE mlhost_webhook_ingest_seconds histogram")
      out += ingestLatency.lines("mlhost_webhook_ingest_seconds")
      return out.joined(separator: "\n") + "\n"
    }
  }
}
