import Foundation
import Hummingbird
import MLHostLua
import MLHostRuntime
import MLHostSystems
import MLHostTesting
import Synchronization
import Testing

/// A server that misbehaves on purpose: failures before success, Retry-After, a Shopify-style cost bucket, slow
/// writes, and a count of every hit so a test can tell what was sent.
final class SystemServer: Sendable {
  struct State {
    var hits: [String: Int] = [:]
    var inFlight = 0
    var peak = 0
    var stamps: [String: [Double]] = [:]
    /// The cost bucket: 100 points, restored at 100 per second (slow enough that a loaded machine's scheduling
    /// jitter is small beside one query's refill), 40 per query.
    var available = 100.0
    var refilled = ProcessInfo.processInfo.systemUptime
    var throttled = 0
  }

  let state = Mutex(State())

  func hit(_ key: String) -> Int {
    state.withLock {
      $0.hits[key, default: 0] += 1
      $0.stamps[key, default: []].append(ProcessInfo.processInfo.systemUptime)
      return $0.hits[key]!
    }
  }

  func hits(_ key: String) -> Int { state.withLock { $0.hits[key] ?? 0 } }

  static func json(_ text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var h = headers
    h[.contentType] = "application/json"
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  func router() -> Router<BasicRequestContext> {
    let router = Router()
    // Fails `fail` times with `status`, then answers 200; the count is per `key`.
    router.on("/flaky", method: .get) { [self] request, _ in flaky(request) }
    router.on("/flaky", method: .post) { [self] request, _ in flaky(request) }
    router.get("/retry-after") { [self] _, _ -> Response in
      hit("retry-after") == 1 ? Self.json("{}", status: .tooManyRequests, headers: [.retryAfter: "1"]) : Self.json("{}")
    }
    router.get("/sage300") { [self] _, _ -> Response in
      hit("sage300") == 1
        ? Self.json(
          #"{"error":{"code":"TooManyRequests","message":{"lang":"en-US","value":"Server was flooded"}}}"#,
          status: .tooManyRequests)
        : Self.json(#"{"value":[]}"#)
    }
    router.post("/slow-post") { [self] _, _ -> Response in
      _ = hit("slow-post")
      try await Task.sleep(nanoseconds: 400_000_000)
      return Self.json("{}")
    }
    router.get("/inflight") { [self] _, _ -> Response in
      _ = hit("inflight")
      state.withLock {
        $0.inFlight += 1
        $0.peak = max($0.peak, $0.inFlight)
      }
      try await Task.sleep(nanoseconds: 50_000_000)
      state.withLock { $0.inFlight -= 1 }
      return Self.json("{}")
    }
    router.on("/write", method: .post) { [self] _, _ in
      _ = hit("write")
      return Self.json(#"{"id": 7}"#)
    }
    router.get("/echo-auth") { [self] request, _ -> Response in
      _ = hit("echo-auth")
      return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: request.headers[.authorization] ?? "")))
    }
    router.get("/read") { [self] _, _ -> Response in
      _ = hit("read")
      return Self.json(#"{"ok": true}"#)
    }
    router.post("/graphql.json") { [self] request, _ -> Response in
      var request = request
      let body = String(buffer: try await request.collectBody(upTo: 1 << 16))
      _ = hit(body.contains("mutation") ? "graphql-mutation" : "graphql")
      return costBucketAnswer()
    }
    return router
  }

  private func flaky(_ request: Request) -> Response {
    let q = request.uri.queryParameters
    let fail = Int(q.get("fail") ?? "0") ?? 0
    let status = Int(q.get("status") ?? "503") ?? 503
    let n = hit(q.get("key") ?? "flaky")
    return n <= fail ? Self.json("{}", status: .init(code: status)) : Self.json(#"{"ok": true}"#)
  }

  /// Shopify's leaky bucket: a query that does not fit is answered 200 with THROTTLED and the bucket's figures.
  private func costBucketAnswer() -> Response {
    state.withLock { s in
      let now = ProcessInfo.processInfo.systemUptime
      s.available = min(100, s.available + (now - s.refilled) * 100)
      s.refilled = now
      let status = #""throttleStatus":{"maximumAvailable":100.0,"currentlyAvailable":"#
      guard s.available >= 40 else {
        s.throttled += 1
        return Self.json(
          #"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"extensions":{"cost":{"requestedQueryCost":40,"actualQueryCost":null,"#
            + status + "\(Int(s.available)),\"restoreRate\":100.0}}}}")
      }
      s.available -= 40
      return Self.json(
        #"{"data":{"shop":{"name":"x"}},"extensions":{"cost":{"requestedQueryCost":40,"actualQueryCost":40,"# + status
          + "\(Int(s.available)),\"restoreRate\":100.0}}}}")
    }
  }
}

@Suite(.serialized) struct SystemTests {
  static func start() async throws -> (SystemServer, LocalServer) {
    let s = SystemServer()
    return (s, try await LocalServer.start(s.router()))
  }

  static let declare = "local sys = mlhost.http.system { name = 'erp', base_url = input, retries = 3 }\n"

  @Test func retryableFailuresAreRetriedAndPermanentOnesAreNot() async throws {
    let (s, server) = try await Self.start()
    defer { server.stop() }
    let v = try await evalLua(
      Self.declare + """
        local function get(q, method, safe)
          local r = mlhost.http.request { system = sys, path = "/flaky?" .. q, method = method, safe = safe }
          return { r.status, r.attempts, r.retryable or false }
        end
        return {
          get("key=a&fail=2&status=503"), get("key=b&fail=1&status=404"), get("key=c&fail=1&status=502", "POST"),
          get("key=d&fail=1&status=502", "POST", true), get("key=e&fail=9&status=504"), get("key=f&fail=1&status=429", "POST"),
        }
        """, input: .text(server.url))
    #expect(
      v == [
        [200, 3, false],  // 503 twice, then success
        [404, 1, false],  // permanent
        [502, 1, true],  // a POST may have been processed behind a 502: not repeated
        [200, 2, false],  // unless the caller marked it safe
        [504, 4, true],  // retries run out: the answer, still marked retryable
        [200, 2, false],  // 429 means not processed: even a POST goes again
      ])
    #expect(s.hits("c") == 1)
  }

  @Test func retryAfterAndSage300TooManyRequestsAreHonoured() async throws {
    let (s, server) = try await Self.start()
    defer { server.stop() }
    let v = try await evalLua(
      Self.declare + """
        local a = mlhost.http.request { system = sys, path = "/retry-after" }
        local b = mlhost.http.request { system = sys, path = "/sage300" }
        return { a.status, a.attempts, b.status, b.attempts }
        """, input: .text(server.url))
    #expect(v == [200, 2, 200, 2])
    let stamps = s.state.withLock { $0.stamps["retry-after"]! }
    #expect(stamps[1] - stamps[0] >= 0.95, "retried \(stamps[1] - stamps[0]) s after a Retry-After of 1 s")
  }

  @Test func aTimedOutPostIsNotRepeatedUnlessSafe() async throws {
    let (s, server) = try await Self.start()
    defer { server.stop() }
    let v = try await evalLua(
      Self.declare + """
        local r, token, detail = mlhost.http.request { system = sys, method = "POST", path = "/slow-post", timeout = 0.1, body = "x" }
        return { r == nil, token, detail.ambiguous, detail.retryable, detail.attempts }
        """, input: .text(server.url))
    #expect(v == [true, "timeout", true, true, 1])
    try await Task.sleep(nanoseconds: 100_000_000)
    #expect(s.hits("slow-post") == 1)
    let safe = try await evalLua(
      """
      local sys = mlhost.http.system { name = 'erp', base_url = input, retries = 1 }
      local _, _, detail = mlhost.http.request { system = sys, method = "POST", path = "/slow-post", timeout = 0.1, safe = true }
      return detail.attempts
      """, input: .text(server.url))
    #expect(safe == 2)
  }

  @Test func budgetsAndConcurrencyCapsMakeJobsWait() async throws {
    let (s, server) = try await Self.start()
    defer { server.stop() }
    // 20 requests per second with no burst: 10 requests take at least 0.45 s however many run at once.
    let started = Date()
    _ = try await evalLua(
      """
      local sys = mlhost.http.system { name = 'erp', base_url = input, rate = 20, burst = 1 }
      local n = {}
      for i = 1, 10 do n[i] = i end
      mlhost.each(n, 10, function() return mlhost.http.request { system = sys, path = "/read" }.status end)
      """, input: .text(server.url))
    #expect(Date().timeIntervalSince(started) >= 0.44)
    #expect(s.hits("read") == 10)
    // At most two in flight, although twelve coroutines ask at once.
    _ = try await evalLua(
      """
      local sys = mlhost.http.system { name = 'erp', base_url = input, max_concurrent = 2 }
      local n = {}
      for i = 1, 12 do n[i] = i end
      mlhost.each(n, 12, function() return mlhost.http.request { system = sys, path = "/inflight" }.status end)
      """, input: .text(server.url))
    #expect(s.state.withLock { $0.peak } == 2)
  }

  @Test func shopifyCostBucketWaitsInsteadOfFailing() async throws {
    let (s, server) = try await Self.start()
    defer { server.stop() }
    let script = Self.costBurst
    // With the budget: twelve 40-point queries against a 100-point bucket all succeed; the host waits its turn.
    let budgeted = try await evalLua(
      script, input: ["url": .text(server.url), "bucket": ["size": 100, "restore": 100], "retries": 3])
    #expect(budgeted["all"] == true)
    // Clocks on two sides of a socket drift a little, so a query may still meet a throttle now and then (and is
    // retried); without the budget most of the burst is throttled.
    let withBudget = s.state.withLock { $0.throttled }
    // Without it (and no retries), the same burst is throttled.
    try await Task.sleep(nanoseconds: 300_000_000)
    let reckless = try await evalLua(script, input: ["url": .text(server.url), "bucket": false, "retries": 0])
    guard case .integer(let throttled) = reckless["throttled"] else {
      Issue.record("no count")
      return
    }
    #expect(
      throttled >= 6 && withBudget * 2 < throttled, "\(withBudget) throttled with the budget, \(throttled) without")
  }

  /// Twelve 40-point GraphQL queries at once, those after the first `input.late_after` 30 ms later; answers whether
  /// all got data and how many answers were throttled.
  static let costBurst = """
    local sys = mlhost.http.system { name = 'shop', base_url = input.url, cost_bucket = input.bucket, retries = input.retries }
    local n, throttled = {}, 0
    for i = 1, 12 do n[i] = i end
    local ok = mlhost.each(n, 12, function(i)
      if input.late_after and i > input.late_after then mlhost.sleep(0.03) end
      local r = mlhost.http.request { system = sys, method = "POST", path = "/graphql.json",
        json = { query = "{ shop { name } }" }, cost = 40 }
      if r.throttled then throttled = throttled + 1 end
      return r.json.data ~= nil
    end)
    local all = true
    for _, v in ipairs(ok) do all = all and v end
    return { all = all, throttled = throttled }
    """

  @Test func aLateRequestQueuesBehindThoseAlreadyWaitingForTheCostBucket() async throws {
    let (s, server) = try await Self.start()
    defer { server.stop() }
    // Six queries queue for a 100-point bucket; the first answers come back while four still wait; six more
    // queries arrive after them. The server's figure in those answers does not count the four waiting, so taking
    // it as the whole truth would send the late six at once, into the waiting four, and be throttled.
    let result = try await evalLua(
      Self.costBurst,
      input: [
        "url": .text(server.url), "bucket": ["size": 100, "restore": 100], "retries": 3, "late_after": 6,
      ])
    #expect(result["all"] == true)
    // Clocks on two sides of a socket drift a little: one throttle is tolerated, a burst is not.
    #expect(s.state.withLock { $0.throttled } <= 1, "\(result)")
  }

  @Test func readOnlySystemsRefuseEveryMutatingCall() async throws {
    let (s, server) = try await Self.start()
    defer { server.stop() }
    let v = try await evalLua(
      """
      local sys = mlhost.http.system { name = 'adobe', base_url = input, read_only = true }
      local read = mlhost.http.request { system = sys, path = "/read" }.status
      local query = mlhost.http.request { system = sys, method = "POST", path = "/graphql.json", json = { query = "query { shop { name } }" } }.status
      local ok, err = pcall(mlhost.http.request, { system = sys, method = "POST", path = "/write", json = { a = 1 } })
      local ok2, err2 = pcall(mlhost.http.request, { system = sys, method = "POST", path = "/graphql.json", json = { query = "# c\\n mutation { x }" } })
      local ok3, err3 = pcall(mlhost.http.request, { system = sys, url = "http://127.0.0.2:1/elsewhere" })
      return { read = read, query = query, ok = ok, kind = err.kind, retryable = err.retryable, message = err.message,
               mutation = ok2, elsewhere = ok3, elsewhere_error = err3 }
      """, input: .text(server.url))
    #expect(v["read"] == 200)
    #expect(v["query"] == 200)
    #expect(v["ok"] == false)
    #expect(v["kind"] == "read_only")
    #expect(v["retryable"] == false)
    #expect(v["message"].stringValue?.contains("system 'adobe' is read-only; POST \(server.url)/write refused") == true)
    #expect(v["mutation"] == false)
    #expect(v["elsewhere"] == false)
    #expect(v["elsewhere_error"].stringValue?.contains("is not on system 'adobe'") == true)
    #expect(s.hits("write") == 0)
    #expect(s.hits("graphql-mutation") == 0)
    // Bad declarations are refused clearly.
    let bad = try await runJob("mlhost.http.system { name = 'x', ca_bundle = '/nonexistent.pem' }")
    #expect(bad.error?.message.contains("`ca_bundle` file /nonexistent.pem cannot be read") == true)
    let clash = try await runJob(
      "mlhost.http.system { name = 'x', rate = 1 } mlhost.http.system { name = 'x', rate = 2 }")
    #expect(clash.error?.message.contains("already declared with other options") == true)
  }
}
