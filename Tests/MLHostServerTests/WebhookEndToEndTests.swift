import Foundation
import MLHostRuntime
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// The real binary receiving webhooks over loopback, including kill -9 in the middle of work.
@Suite(.serialized) struct WebhookEndToEndTests {
  static let script = """
    local c = mlhost.connector { name = "hook" }
    c:handler("shop.order", function(rec, o)
      local existing = rec:target_id("erp")
      if existing then return rec:unchanged("erp", existing) end
      -- The "ERP": a natural-key lookup first, so a crash between writing and auditing never creates twice.
      local invoice = mlhost.store.get("erp:" .. o.id)
      if not invoice then
        mlhost.sleep(0.01)
        invoice = "INV-" .. o.id
        mlhost.store.set("erp:" .. o.id, invoice)
      end
      return rec:created("erp", invoice)
    end)
    c:on_webhook("shopify", "orders/create", function(job, delivery)
      job:record("shop.order", delivery.payload.id, delivery.payload)
    end)
    c:job("bulk", function(job, n)
      for i = 1, n do
        job:record("shop.order", i, { id = i })
        job:advance_cursor("bulk", i)
      end
    end)
    return c
    """

  func setUp() throws -> (TempConnector, URL) {
    let c = try TempConnector(script: Self.script)
    let state = c.directory.appendingPathComponent("state")
    try CredentialVault(directory: state).set(
      Credential(name: "hook.shopify", type: .webhook_secret, fields: ["secret": "hush-current"]))
    return (c, state)
  }

  func order(_ id: Int) -> [UInt8] { Array(#"{"id":\#(id),"email":"a@example.com","total_price":"124.95"}"#.utf8) }

  func headers(_ body: [UInt8], id: String, secret: String = "hush-current") -> [String: String] {
    [
      "X-Shopify-Hmac-Sha256": shopifySignature(body, secret: secret), "X-Shopify-Webhook-Id": id,
      "Content-Type": "application/json",
    ]
  }

  @Test func badDeliveriesAreRefusedAndQueueNothing() async throws {
    let (c, state) = try setUp()
    defer { c.remove() }
    let host = try await HostProcess(scripts: [c.script], state: state)
    defer { host.process.kill() }
    let path = "/hooks/hook/orders_create"
    let body = order(1)
    #expect(await host.post(path, body: body, headers: headers(body, id: "x", secret: "forged")) == 401)
    #expect(await host.post(path, body: body, headers: [:]) == 401)
    let big = Array(repeating: UInt8(ascii: "a"), count: (1 << 20) + 1)
    #expect(await host.post(path, body: big, headers: headers(big, id: "big")) == 413)
    let notJSON = Array("{not json".utf8)
    #expect(await host.post(path, body: notJSON, headers: headers(notJSON, id: "nj")) == 400)
    #expect(await host.post("/hooks/hook/nope", body: body, headers: headers(body, id: "n")) == 404)
    #expect(await host.post("/hooks/other/orders_create", body: body, headers: headers(body, id: "o")) == 404)
    #expect(try await host.store().stats().jobsByState.isEmpty)
    #expect(host.process.output.contains("event=security"))
    #expect(!host.process.output.contains("124.95"), "a rejected body reached the log")
    // A good one, twice: one job.
    #expect(await host.post(path, body: body, headers: headers(body, id: "d-1")) == 200)
    #expect(await host.post(path, body: body, headers: headers(body, id: "d-1")) == 200)
    #expect(try await eventually { try await host.store().stats().jobsByState == ["succeeded": 1] })
    #expect(await host.stop() == 0)
  }

  @Test func everyAcknowledgedDeliverySurvivesKill9ExactlyOnce() async throws {
    let (c, state) = try setUp()
    defer { c.remove() }
    var host = try await HostProcess(scripts: [c.script], state: state, extra: ["--lease-seconds", "2"])
    defer { host.process.kill() }
    let first = host
    let n = 300
    // A burst of 300 deliveries, 32 in flight at a time; the host is killed part way through.
    let acknowledged = await withTaskGroup(of: (Int, Int).self) { group -> [Int] in
      var ids = Array(1...n).makeIterator()
      var done: [Int] = []
      for _ in 0..<32 {
        if let i = ids.next() {
          let body = order(i)
          group.addTask {
            (i, await first.post("/hooks/hook/orders_create", body: body, headers: headers(body, id: "b-\(i)")))
          }
        }
      }
      var received = 0
      for await (i, status) in group {
        received += 1
        if status == 200 { done.append(i) }
        if received == n / 3 { await first.kill9() }
        if let next = ids.next() {
          let body = order(next)
          group.addTask {
            (next, await first.post("/hooks/hook/orders_create", body: body, headers: headers(body, id: "b-\(next)")))
          }
        }
      }
      return done
    }
    #expect(acknowledged.count >= n / 4, "too few deliveries were acknowledged before the kill: \(acknowledged.count)")
    #expect(acknowledged.count < n, "the kill came too late to test anything")
    host = try await HostProcess(scripts: [c.script], state: state, extra: ["--lease-seconds", "2"])
    let store = try host.store()
    for i in acknowledged {
      let processed = try await eventually(within: 30) {
        try await store.value(connector: "hook", key: "erp:\(i)") != nil
      }
      #expect(processed, "acknowledged delivery \(i) was lost")
      if !processed { break }
    }
    // Each order was created once, whatever was retried.
    let created = try await store.records(RecordFilter(connector: "hook", limit: 10_000)).filter {
      $0.outcome == .created
    }
    #expect(Set(created.map(\.key)).count == created.count, "a record was created twice")
    #expect(await host.stop() == 0)
  }

  @Test func aJobKilledMidwayFinishesAfterRestartWithoutDuplicates() async throws {
    let (c, state) = try setUp()
    defer { c.remove() }
    // Leases of 2 s (renewed every ~0.7 s while alive) so the killed host's job is claimed again quickly.
    var host = try await HostProcess(scripts: [c.script], state: state, extra: ["--lease-seconds", "2"])
    defer { host.process.kill() }
    // 300 orders of at least 10 ms each: the kill lands midway even on a loaded machine.
    #expect(try await host.admin("POST", "/trigger/hook/bulk", body: "300").0 == 200)
    let store = try host.store()
    #expect(
      try await eventually(within: 20) {
        Int(try await store.cursor(connector: "hook", name: "bulk") ?? "0") ?? 0 >= 15
      })
    await host.kill9()
    let cursorAtKill = Int(try await store.cursor(connector: "hook", name: "bulk") ?? "0") ?? 0
    #expect(cursorAtKill < 300, "the job finished before the kill")
    host = try await HostProcess(scripts: [c.script], state: state, extra: ["--lease-seconds", "2"])
    #expect(try await eventually(within: 90) { try await store.cursor(connector: "hook", name: "bulk") == "300" })
    for i in 1...300 { #expect(try await store.value(connector: "hook", key: "erp:\(i)") == "\"INV-\(i)\"") }
    let created = try await store.records(RecordFilter(connector: "hook", limit: 10_000)).filter {
      $0.outcome == .created
    }
    #expect(created.count == 300)
    #expect(Set(created.map(\.key)).count == 300, "a record was created twice")
    #expect(await host.stop() == 0)
  }
}
