import Foundation
import MLHostRuntime
import MLHostStore
import MLHostTesting
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// The real binary's webhook listener under a hostile network: slow headers, trickled bodies, a flood of idle
/// connections, oversized and malformed bodies, while signed deliveries keep being acknowledged (each run exactly
/// once) and the admin listener keeps answering.
@Suite(.serialized) struct HostileNetworkTests {
  let e2e = WebhookEndToEndTests()
  static let path = "/hooks/hook/orders_create"
  static let limits = [
    "--max-connections", "300", "--header-timeout", "1", "--body-timeout", "2", "--idle-timeout", "2", "--body-limit",
    "65536",
  ]

  /// Sends signed deliveries `ids`, `parallel` at a time; returns the ids acknowledged with 200 and the others' statuses.
  func deliver(_ host: HostProcess, _ ids: [Int], parallel: Int = 4) async -> (acknowledged: [Int], failed: [Int: Int])
  {
    await withTaskGroup(of: (Int, Int).self) { group in
      var pending = ids.makeIterator()
      func add() {
        guard let id = pending.next() else { return }
        let body = e2e.order(id)
        let headers = e2e.headers(body, id: "h-\(id)")
        group.addTask { (id, await host.post(Self.path, body: body, headers: headers)) }
      }
      for _ in 0..<parallel { add() }
      var acknowledged: [Int] = []
      var failed: [Int: Int] = [:]
      for await (id, status) in group {
        if status == 200 { acknowledged.append(id) } else { failed[id] = status }
        add()
      }
      return (acknowledged, failed)
    }
  }

  func healthy(_ host: HostProcess) async -> Bool {
    var request = URLRequest(url: URL(string: host.adminURL + "/healthz")!)
    request.timeoutInterval = 2
    guard let (_, response) = try? await URLSession.shared.data(for: request) else { return false }
    return (response as? HTTPURLResponse)?.statusCode == 200
  }

  @Test func theListenerHoldsAgainstAHostilePeer() async throws {
    ProcessLimits.raiseOpenFiles()
    let (c, state) = try e2e.setUp()
    defer { c.remove() }
    let host = try await HostProcess(scripts: [c.script], state: state, extra: Self.limits)
    defer { host.process.kill() }
    let port = try #require(URLComponents(string: host.webhookURL)?.port)
    var acknowledged: [Int] = []

    // Slow headers and a trickled body, while deliveries go on: both cut off by their deadlines (1 s and 2 s).
    let slowHead = "POST \(Self.path) HTTP/1.1\r\nHost: x\r\n"
    let slowBody =
      "POST \(Self.path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    async let slowloris = HostilePeer.run {
      HostilePeer.trickle(port: port, count: 20, head: slowHead, drip: "X-Slow: y\r\n", giveUp: 8)
    }
    async let trickled = HostilePeer.run {
      HostilePeer.trickle(port: port, count: 20, head: slowBody, drip: "1", giveUp: 8)
    }
    let during = await deliver(host, Array(1...20))
    #expect(during.failed.isEmpty, "deliveries failed beside slow peers: \(during.failed)")
    acknowledged += during.acknowledged
    let (heads, bodies) = await (slowloris, trickled)
    #expect(heads.allSatisfy { $0 != nil && $0! < 4 }, "slow headers held: \(heads)")
    #expect(bodies.allSatisfy { $0 != nil && $0! < 5 }, "a trickled body held: \(bodies)")

    // An oversized body: answered 413 and closed at once, though most of the announced body never came.
    let big = e2e.order(0) + Array(repeating: UInt8(ascii: " "), count: 128 * 1024)
    let oversized = await HostilePeer.run {
      HostilePeer.sendAndListen(
        port: port,
        head:
          "POST \(Self.path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n",
        body: big, within: 4)
    }
    #expect(oversized.answer.hasPrefix("HTTP/1.1 413"), "\(oversized.answer)")
    #expect(oversized.answer.lowercased().contains("connection: close"))
    #expect(oversized.closed, "the connection stayed open after the 413")
    // Announced too large and waiting for `100 Continue`: answered at once, from the head alone.
    let announced = await HostilePeer.run {
      HostilePeer.sendAndListen(
        port: port,
        head: "POST \(Self.path) HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 70000\r\n\r\n",
        body: [], within: 1.5)
    }
    #expect(announced.answer.hasPrefix("HTTP/1.1 413") && announced.closed, "\(announced)")
    let malformed = Array("{\"id\": 5,".utf8)
    #expect(await host.post(Self.path, body: malformed, headers: e2e.headers(malformed, id: "bad")) == 400)

    // Two thousand connections that say nothing: at most --max-connections are held (each for the header
    // timeout), deliveries still get through, and the admin listener answers throughout.
    let flood = await HostilePeer.run { HostilePeer.idle(port: port, count: 2000) }
    #expect(flood.count >= 1900, "the flood itself could not connect: \(flood.count)")
    async let flooded = deliver(host, Array(21...60))
    var peak = 0
    for _ in 0..<6 {
      try await Task.sleep(nanoseconds: 300_000_000)
      #expect(await healthy(host), "/healthz stopped answering under the flood")
      peak = max(peak, HostilePeer.openDescriptors(pid: host.process.pid))
    }
    #expect(peak < 300 + 150, "the cap did not hold: \(peak) descriptors open")
    let underFlood = await flooded
    #expect(underFlood.failed.isEmpty, "deliveries failed under the flood: \(underFlood.failed)")
    acknowledged += underFlood.acknowledged
    HostilePeer.release(flood)

    // Every acknowledged delivery ran, exactly once; nothing else was queued.
    let store = try host.store()
    #expect(
      try await eventually(within: 10) { try await store.stats().jobsByState == ["succeeded": acknowledged.count] })
    let created = try await store.records(RecordFilter(connector: "hook", limit: 10_000)).filter {
      $0.outcome == .created
    }
    #expect(created.count == acknowledged.count)
    #expect(Set(created.map(\.key)) == Set(acknowledged.map(String.init)))
    #expect(await host.stop() == 0)
  }
}
