import Foundation
import MLHostRuntime
import MLHostStore
import MLHostSystems
import MLHostTesting
import Testing

/// Adobe I/O Events through the real binary's receiver: the registration's challenge handshake is answered only on
/// an I/O Events route and only with a plausible value; a delivery runs its handler only when one of its two
/// signatures verifies and it is addressed to this integration.
@Suite(.serialized) struct AdobeIOEventsEndToEndTests {
  static let script = """
    local c = mlhost.connector { name = "io" }
    c:handler("adobe.event", function(rec, e) return rec:created("erp", "E-" .. tostring(e.event_id)) end)
    c:on_webhook("adobe_io", "observer.sales_order_save_after", function(job, delivery)
      job:record("adobe.event", delivery.payload.event_id, delivery.payload)
    end, { name = "events", secret = "io_keys" })
    c:on_webhook("shopify", "orders/create", function() end)
    return c
    """

  func get(_ host: HostProcess, _ path: String) async throws -> (Int, String) {
    let r = try await HTTPClient.shared.send(MLHostSystems.HTTPRequest(method: "GET", url: host.webhookURL + path))
      .get()
    return (r.status, String(decoding: r.body, as: UTF8.self))
  }

  @Test func challengeAndSignedDeliveries() async throws {
    let v = try Vectors.adobe()
    let c = try TempConnector(script: Self.script)
    defer { c.remove() }
    let state = c.directory.appendingPathComponent("state")
    try CredentialVault(directory: state).set(
      Credential(
        name: "io_keys", type: .adobe_io_events,
        fields: [
          "public_key1": v["io_key1"]!, "public_key2": v["io_key2"]!, "client_id": "client-xyz",
        ]))
    let host = try await HostProcess(scripts: [c.script], state: state)
    defer { host.process.kill() }

    let answered = try await get(host, "/hooks/io/events?challenge=a1b2-c3")
    #expect(answered.0 == 200 && answered.1 == #"{"challenge":"a1b2-c3"}"#, "\(answered)")
    #expect(try await get(host, "/hooks/io/events?challenge=%22%3Cscript%3E").0 == 400)
    #expect(try await get(host, "/hooks/io/events").0 == 405)
    // Not an I/O Events route: no echo, whatever is asked.
    #expect(try await get(host, "/hooks/io/orders_create?challenge=abc").0 == 405)
    #expect(try await get(host, "/hooks/io/nothing?challenge=abc").0 == 405)

    let body = Array(v["io_body"]!.utf8)
    #expect(
      await host.post("/hooks/io/events", body: body, headers: ["x-adobe-digital-signature-1": v["io_sig_other"]!])
        == 401)
    #expect(await host.post("/hooks/io/events", body: body, headers: [:]) == 401)
    #expect(
      await host.post(
        "/hooks/io/events", body: body,
        headers: [
          "x-adobe-digital-signature-1": v["io_sig_other"]!, "x-adobe-digital-signature-2": v["io_sig2"]!,
          "Content-Type": "application/json",
        ]) == 200)
    let store = try host.store()
    #expect(try await eventually(within: 20) { try await store.stats().recordsByOutcome["created", default: 0] == 1 })
    #expect(try await store.records(RecordFilter(limit: 10)).map(\.key) == ["e-1"])
    #expect(await host.stop() == 0)
  }
}
