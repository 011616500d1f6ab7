import Foundation
import MLHostCore
import Synchronization

/// Sends requests to one system account under its rules: the dry-run journal, the shared rate and cost budgets
/// and concurrency cap, the credential, and retries of retryable failures with backoff (full jitter, never sooner
/// than Retry-After). A failure that may have reached the server is repeated only for requests safe to repeat.
package final class SystemClient: Sendable {
  package let profile: SystemProfile
  private let gate: AsyncGate?
  private let requestBudget: Mutex<LeakyBucket?>
  private let costBudget: Mutex<CostBudget?>
  /// The points a GraphQL call is assumed to cost until it says otherwise: the last requested cost seen.
  private let typicalCost = Mutex<Double>(50)
  private let retry: RetryPolicy
  /// A wait longer than this is not spent holding a request: the caller gets the answer and its `retry_after`.
  static let longestWait: Double = 60

  package struct Exchange: Sendable {
    package var result: Result<HTTPResponse, HostError>
    package var verdict: ResponseVerdict
    package var attempts: Int
    package var dryRun = false
  }

  package init(_ profile: SystemProfile, retry: RetryPolicy = RetryPolicy(base: 0.5, cap: 30)) {
    self.profile = profile
    self.retry = retry
    gate = profile.maxConcurrent.map { AsyncGate(limit: max(1, $0)) }
    let now = Self.clock()
    requestBudget = Mutex(profile.rate.map { LeakyBucket(capacity: max(1, profile.burst ?? $0), rate: $0, now: now) })
    costBudget = Mutex(profile.costBucket.map { CostBudget(capacity: $0.size, rate: $0.restore, now: now) })
  }

  static func clock() -> Double { ProcessInfo.processInfo.systemUptime }

  /// Whether a request may be sent twice: reads, PUT and DELETE by HTTP's rules, or what the caller marked safe.
  static func repeatable(_ request: HTTPRequest, mutates: Bool, safe: Bool) -> Bool {
    safe || !mutates || request.method == "PUT" || request.method == "DELETE"
  }

  package func send(
    _ request: HTTPRequest, safe: Bool, cost: Double?, authenticator: Authenticator?, journal: DryRunJournal?,
    observer: RequestObserver? = nil
  ) async -> Exchange {
    let mutates = SystemProfile.mutates(method: request.method, body: request.body)
    if mutates, let journal {
      journal.record(system: profile.name, request)
      let held = HTTPResponse(status: 202, headers: [("x-mlhost-dry-run", "1")], body: [])
      return Exchange(result: .success(held), verdict: .done, attempts: 0, dryRun: true)
    }
    let repeatable = Self.repeatable(request, mutates: mutates, safe: safe)
    var attempt = 0
    while true {
      attempt += 1
      await pause(requestBudget.withLock { $0?.take(1, now: Self.clock()) } ?? 0)
      let points = cost ?? typicalCost.withLock { $0 }
      await pause(costBudget.withLock { $0?.take(points, now: Self.clock()) } ?? 0)
      await gate?.enter()
      let started = Self.clock()
      let result: Result<HTTPResponse, HostError>
      if let credential = profile.credential, let authenticator {
        let system = profile.name
        result = await authenticator.send(request, credential: credential) { reason in
          observer?.tokenRefreshed(system: system, credential: credential, reason: reason)
        }
      } else {
        result = await HTTPClient.shared.send(request)
      }
      gate?.leave()
      let took = Self.clock() - started
      let spent = observeCost(result, took: points)
      let verdict = ResponseVerdict(result, cost: spent)
      let again = verdict.retryable && attempt <= profile.retries && (repeatable || !verdict.ambiguous)
      let delay = max(retry.delay(afterAttempt: attempt), verdict.retryAfter ?? 0)
      let retried = again && delay <= Self.longestWait
      observer?.attempt(
        system: profile.name, request, result: result, verdict: verdict, attempt: attempt, seconds: took,
        retryIn: retried ? delay : nil)
      guard retried else { return Exchange(result: result, verdict: verdict, attempts: attempt) }
      await pause(delay)
    }
  }

  /// Settles the `took` points of an answered request and feeds Shopify's own account of the cost bucket, if the
  /// answer has one, back into ours.
  private func observeCost(_ result: Result<HTTPResponse, HostError>, took points: Double) -> ShopifyCost? {
    guard profile.costBucket != nil else { return nil }
    var cost: ShopifyCost?
    if case .success(let r) = result { cost = ShopifyCost.parse(r.body) }
    if let requested = cost?.requested { typicalCost.withLock { $0 = requested } }
    costBudget.withLock { $0?.answered(points, server: cost, now: Self.clock()) }
    return cost
  }

  private func pause(_ seconds: Double) async {
    guard seconds > 0 else { return }
    try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
  }
}
