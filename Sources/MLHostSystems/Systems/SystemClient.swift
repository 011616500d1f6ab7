import Foundation
import MLHostCore
import Synchronization

/// Sends requests to one system account under its rules: the dry-run journal, the shared rate and cost budgets
/// and concurrency cap, the credential, and retries of retryable failures with backoff (full jitter, never sooner
/// than Retry-After). A failure that may have reached the server is repeated only for requests safe to repeat.
package final class SystemClient: Sendable {
  package let profile: SystemProfile
  private let gate: ConcurrencyGate?
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
    gate = profile.maxConcurrent.map { ConcurrencyGate(limit: max(1, $0)) }
    let now = Self.clock()
    requestBudget = Mutex(profile.rate.map { LeakyBucket(capacity: max(1, profile.burst ?? $0), rate: $0, now: now) })
    costBudget = Mutex(profile.costBucket.map { CostBudget(capacity: $0.size, rate: $0.restore, now: now) })
  }

  static func clock() -> Double { ProcessInfo.processInfo.systemUptime }

  /// Whether a request may be sent twice: reads, PUT and DELETE by HTTP's rules, or what the caller marked safe.
  static func repeatable(_ request: HTTPRequest, mutates: Bool, safe: Bool) -> Bool {
    safe || !mutates || request.method == "PUT" || request.method == "DELETE"
  }

  /// Sends `request` and hands the exchange to `done`, once, on the thread that finished it: curl's, for an
  /// answer, so a waiting Lua VM gets it from there with no hop through the task pool. The request leaves from the
  /// calling thread unless it must wait (a budget, the concurrency cap, a token to fetch, a retry's backoff).
  package func send(
    _ request: HTTPRequest, safe: Bool, cost: Double?, authenticator: Authenticator?, journal: DryRunJournal?,
    observer: RequestObserver? = nil, then done: @escaping @Sendable (Exchange) -> Void
  ) {
    let mutates = SystemProfile.mutates(method: request.method, body: request.body)
    if mutates, let journal {
      journal.record(system: profile.name, request)
      let held = HTTPResponse(status: 202, headers: [("x-mlhost-dry-run", "1")], body: [])
      return done(Exchange(result: .success(held), verdict: .done, attempts: 0, dryRun: true))
    }
    let call = Call(
      request: request, repeatable: Self.repeatable(request, mutates: mutates, safe: safe), cost: cost,
      authenticator: authenticator, observer: observer, done: done)
    attempt(1, call)
  }

  /// What every attempt of one request needs.
  private struct Call: Sendable {
    let request: HTTPRequest
    let repeatable: Bool
    let cost: Double?
    let authenticator: Authenticator?
    let observer: RequestObserver?
    let done: @Sendable (Exchange) -> Void
  }

  /// Attempt `n`: its turn in the request and cost budgets and the concurrency cap, the exchange, then the answer
  /// or the next attempt after its backoff.
  private func attempt(_ n: Int, _ call: Call) {
    after(requestBudget.withLock { $0?.take(1, now: Self.clock()) } ?? 0) { [self] in
      let points = call.cost ?? typicalCost.withLock { $0 }
      after(costBudget.withLock { $0?.take(points, now: Self.clock()) } ?? 0) { [self] in
        enter { [self] in
          let started = Self.clock()
          transmit(call) { [self] result in
            gate?.leave()
            let took = Self.clock() - started
            let spent = observeCost(result, took: points)
            let verdict = ResponseVerdict(result, cost: spent)
            let again = verdict.retryable && n <= profile.retries && (call.repeatable || !verdict.ambiguous)
            let delay = max(retry.delay(afterAttempt: n), verdict.retryAfter ?? 0)
            let retried = again && delay <= Self.longestWait
            call.observer?.attempt(
              system: profile.name, call.request, result: result, verdict: verdict, attempt: n, seconds: took,
              retryIn: retried ? delay : nil)
            guard retried else { return call.done(Exchange(result: result, verdict: verdict, attempts: n)) }
            after(delay) { [self] in attempt(n + 1, call) }
          }
        }
      }
    }
  }

  private func enter(_ work: @escaping @Sendable () -> Void) {
    guard let gate else { return work() }
    gate.enter(work)
  }

  /// The exchange itself, signed with the system's credential when it has one.
  private func transmit(_ call: Call, then done: @escaping @Sendable (Result<HTTPResponse, HostError>) -> Void) {
    guard let credential = profile.credential, let authenticator = call.authenticator else {
      return HTTPClient.shared.send(call.request, completion: done)
    }
    let (system, observer) = (profile.name, call.observer)
    authenticator.send(
      call.request, credential: credential,
      refreshed: { reason in observer?.tokenRefreshed(system: system, credential: credential, reason: reason) },
      then: done)
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

  /// Runs `work` now, or after `seconds` from a task that sleeps them.
  private func after(_ seconds: Double, _ work: @escaping @Sendable () -> Void) {
    guard seconds > 0 else { return work() }
    Task {
      try? await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
      work()
    }
  }
}
