import Foundation
import Hummingbird
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Synchronization
import Testing

@Suite(.serialized) struct HTTPTests {
  final class Counter: Sendable {
    let inFlight = Mutex(0)
    let peak = Mutex(0)
    func enter() {
      let now = inFlight.withLock {
        $0 += 1
        return $0
      }
      peak.withLock { $0 = max($0, now) }
    }
    func leave() { inFlight.withLock { $0 -= 1 } }
  }

  static func server(_ counter: Counter = Counter()) async throws -> LocalServer {
    let router = Router()
    router.get("/order") { _, _ -> Response in
      Response(
        status: .ok, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: #"{"id": 5678901234567890123, "total": 124.95, "lines": []}"#)))
    }
    router.on("/echo", method: .post) { request, _ -> Response in
      var request = request
      let body = try await request.collectBody(upTo: 1 << 20)
      let echo: [String: String] = [
        "method": "\(request.method)", "query": request.uri.query ?? "",
        "x-test": request.headers[.init("X-Test")!] ?? "",
        "content-type": request.headers[.contentType] ?? "", "body": String(buffer: body),
      ]
      let data = try JSONEncoder().encode(echo)
      return Response(
        status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
    router.get("/missing") { _, _ -> Response in
      Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: #"{"errors": "Not Found"}"#)))
    }
    router.get("/slow") { request, _ -> Response in
      counter.enter()
      defer { counter.leave() }
      let ms = Int(request.uri.queryParameters.get("ms") ?? "200") ?? 200
      try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
      return Response(status: .ok)
    }
    return try await LocalServer.start(router)
  }

  @Test func jsonResponsesAndExactDecimals() async throws {
    let server = try await Self.server()
    defer { server.stop() }
    let v = try await evalLua(
      """
      local r = mlhost.http.request { url = input .. "/order", decimals = true }
      return { r.status, r.headers["content-type"], tostring(r.json.total), r.json.id == 5678901234567890123,
               mlhost.json.encode(r.json.lines) }
      """, input: .text(server.url))
    #expect(v == [200, "application/json", "124.95", true, "[]"])
  }

  @Test func requestCarriesMethodQueryHeadersAndJSONBody() async throws {
    let server = try await Self.server()
    defer { server.stop() }
    let v = try await evalLua(
      """
      local r = mlhost.http.request {
        method = "post", url = input .. "/echo", query = { email = "zoë+1@example.com", page = 2 },
        headers = { ["X-Test"] = "yes" }, json = { amount = mlhost.money.new("19.99"), tags = mlhost.json.array() },
      }
      return r.json
      """, input: .text(server.url))
    #expect(v["method"] == "POST")
    #expect(v["query"] == "email=zo%C3%AB%2B1%40example.com&page=2")
    #expect(v["x-test"] == "yes")
    #expect(v["content-type"] == "application/json")
    #expect(v["body"].stringValue?.contains(#""amount":19.99"#) == true)
    #expect(v["body"].stringValue?.contains(#""tags":[]"#) == true)
  }

  @Test func errorStatusesAreResponsesAndFailuresAreTokens() async throws {
    let server = try await Self.server()
    defer { server.stop() }
    let v = try await evalLua(
      """
      local missing = mlhost.http.request { url = input .. "/missing" }
      local slow, token = mlhost.http.request { url = input .. "/slow?ms=2000", timeout = 0.2 }
      local refused, token2, detail = mlhost.http.request { url = "http://127.0.0.1:1/" }
      return { missing.status, slow == nil, token, refused == nil, token2, type(detail.message) }
      """, input: .text(server.url))
    #expect(v == [404, true, "timeout", true, "connection refused", "string"])
    #expect(
      try await runJob("mlhost.http.request { url = 'http://x', bogus = 1 }").error?.message.contains(
        "unknown option 'bogus'") == true)
    #expect(try await runJob("mlhost.http.request { url = 'ftp://x' }").error?.message.contains("http(s) URL") == true)
  }

  @Test func manyRequestsRunAtOnceFromOneVM() async throws {
    let counter = Counter()
    let server = try await Self.server(counter)
    defer { server.stop() }
    let v = try await evalLua(
      """
      local items = {}
      for i = 1, 50 do items[i] = i end
      local statuses = mlhost.each(items, 50, function()
        return mlhost.http.request { url = input .. "/slow?ms=300" }.status
      end)
      return #statuses
      """, input: .text(server.url))
    #expect(v == 50)
    // Concurrent up to the client's per-host connection cap (32), never beyond it.
    let peak = counter.peak.withLock { $0 }
    #expect(peak >= 24 && peak <= 32, "\(peak) requests were in flight at once")
  }

  /// Request smuggling: CR, LF or NUL in a header name or value, a method that is not a token, or a URL with
  /// control characters is refused with an argument error naming the script's line, and nothing is sent.
  @Test(arguments: [
    #"headers = { ["X-A"] = "v\r\nInjected: 1" }"#, #"headers = { ["X-A\r\nInjected"] = "v" }"#,
    #"headers = { ["X-A"] = "v\0w" }"#, #"headers = { ["X A"] = "v" }"#, #"headers = { ["X-A"] = "v\nw" }"#,
    #"method = "GET / HTTP/1.1\r\nX: y\r\n""#, #"method = "G ET""#, #"method = "POST\0""#,
  ])
  func headerInjectionIsRefused(_ option: String) async throws {
    let outcome = try await runJob("mlhost.http.request { url = 'http://127.0.0.1:1/', \(option) }")
    let message = outcome.error?.message ?? "no error"
    #expect(message.contains("connector.lua:4: bad argument #1 to 'request'"), "\(option): \(message)")
  }

  @Test func urlsWithControlCharactersAreRefused() async throws {
    let outcome = try await runJob(#"mlhost.http.request { url = "http://127.0.0.1:1/a\r\nX: y" }"#)
    #expect(outcome.error?.message.contains("connector.lua:4: bad argument #1 to 'request' (`url`") == true)
  }
}
