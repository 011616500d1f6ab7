import Foundation
import Logging
import MLHostCore

/// Hears every attempt of a job's outbound requests: logs it at debug level (method, URL without secrets, status,
/// time, attempt, why it is retried) with the job's context, and counts it for `/metrics`.
package struct RequestObserver: Sendable {
  var logger: Logger
  /// The job's context: connector, job, run and the script line that asked.
  var context: Logger.Metadata
  var connector: String
  var metrics: HostMetrics?

  package init(logger: Logger, context: Logger.Metadata, connector: String, metrics: HostMetrics?) {
    self.logger = logger
    self.context = context
    self.connector = connector
    self.metrics = metrics
  }

  /// Query parameters whose values are credentials or signatures (OAuth 1.0a in the query, API keys).
  static let secretParameters = ["key", "secret", "token", "signature", "password", "passwd", "auth", "nonce", "sig"]

  /// `url` with the values of credential-like query parameters replaced and every known secret redacted.
  static func scrub(_ url: String) -> String {
    guard let q = url.firstIndex(of: "?") else { return SecretRedactor.shared.redact(url) }
    let fragment = url[q...].firstIndex(of: "#")
    let query = url[url.index(after: q)..<(fragment ?? url.endIndex)]
    let scrubbed = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
      guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
      let name = pair[..<eq].lowercased()
      return secretParameters.contains(where: { name.contains($0) }) ? "\(pair[..<eq])=***" : String(pair)
    }.joined(separator: "&")
    return SecretRedactor.shared.redact(
      String(url[..<q]) + "?" + scrubbed + (fragment.map { String(url[$0...]) } ?? ""))
  }

  func attempt(
    system: String, _ request: HTTPRequest, result: Result<HTTPResponse, HostError>, verdict: ResponseVerdict,
    attempt: Int, seconds: Double, retryIn: Double?
  ) {
    var status: Int?
    if case .success(let r) = result { status = r.status }
    var reason: String?
    if retryIn != nil {
      switch result {
      case .failure(let f): reason = f.token
      case .success(let r): reason = verdict.throttled ? "throttled" : "\(r.status)"
      }
    }
    metrics?.request(
      connector: connector, system: system, status: status, seconds: seconds, retryReason: reason,
      throttled: verdict.throttled)
    guard logger.logLevel <= .debug else { return }
    var meta = context
    meta["connector"] = .string(connector)
    meta["system"] = .string(system)
    meta["method"] = .string(request.method)
    meta["url"] = .string(Self.scrub(request.url))
    switch result {
    case .success(let r): meta["status"] = .stringConvertible(r.status)
    case .failure(let f): meta["failure"] = .string(f.token)
    }
    meta["ms"] = .stringConvertible(Int(seconds * 1000))
    meta["attempt"] = .stringConvertible(attempt)
    if verdict.throttled { meta["throttled"] = .stringConvertible(true) }
    if let reason, let retryIn {
      meta["retry"] = .string(reason)
      meta["retry_in_ms"] = .stringConvertible(Int(retryIn * 1000))
    }
    logger.debug("http request", metadata: meta)
  }

  func tokenRefreshed(system: String, credential: String, reason: String) {
    metrics?.tokenRefreshed(connector: connector, system: system)
    var meta = context
    meta["connector"] = .string(connector)
    meta["system"] = .string(system)
    meta["credential"] = .string(credential)
    meta["reason"] = .string(reason)
    logger.debug("token refresh", metadata: meta)
  }
}
