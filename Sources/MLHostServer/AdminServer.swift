import Foundation
import Hummingbird
import Logging
import MLHostCore
import MLHostRuntime
import MLHostStore
import MLHostSystems
import NIOCore

/// The admin API on its own listener: `/healthz` is open; everything else wants `Authorization: Bearer <token>`.
/// `GET /metrics` (Prometheus text), `GET /status`, `POST /trigger/<connector>/<job>` (body: the JSON input),
/// `POST /replay/<record-id>`, `POST /replay?failed=1[&connector=C]`.
public enum AdminServer {
  public static func application(
    host: ConnectorHost, token: String, listener: ListenerConfig, logger: Logger,
    onBound: @escaping @Sendable (Int) -> Void = { _ in }
  ) throws -> some ApplicationProtocol {
    let router = Router()
    router.get("/healthz") { _, _ in "ok\n" }
    let api = router.group().add(middleware: BearerTokenMiddleware(token: token))
    api.get("/metrics") { _, _ -> Response in
      let stats = try await host.store.stats()
      return text(host.metrics.prometheus(store: stats), type: "text/plain; version=0.0.4")
    }
    api.get("/status") { _, _ -> Response in
      try json(await HostStatus.collect(host))
    }
    api.post("/trigger/{connector}/{job}") { request, context -> Response in
      var request = request
      let body = try await request.collectBody(upTo: 1 << 20)
      let input = body.readableBytes == 0 ? nil : String(buffer: body)
      // Refused at the door: a job whose input cannot be decoded would only fail later, after its retries.
      if let input, !JSONScan.isJSON(input) {
        return text("the job input is not JSON\n", status: .badRequest)
      }
      do {
        let id = try await host.enqueue(
          connector: context.parameters.get("connector") ?? "", job: context.parameters.get("job") ?? "", input: input)
        return try json(["job_id": id])
      } catch let e as HostError where e.kind == .notFound {
        return text(e.description + "\n", status: .notFound)
      }
    }
    api.post("/replay/{record}") { _, context -> Response in
      guard let id = context.parameters.get("record", as: Int64.self) else {
        return text("bad record id\n", status: .badRequest)
      }
      do { return try json(["job_ids": [try await host.replay(recordID: id)]]) } catch let e as HostError
        where e.kind == .notFound
      {
        return text(e.description + "\n", status: .notFound)
      }
    }
    api.post("/replay") { request, _ -> Response in
      guard request.uri.queryParameters.get("failed") == "1" else {
        return text("use /replay/<record-id> or /replay?failed=1\n", status: .badRequest)
      }
      let connector = request.uri.queryParameters.get("connector")
      let rows = try await host.store.records(
        RecordFilter(connector: connector, unresolvedFailures: true, limit: 10_000))
      var ids: [Int64] = []
      for row in rows { if let id = try? await host.replay(recordID: row.id) { ids.append(id) } }
      return try json(["job_ids": ids])
    }
    return Application(
      router: router, server: try listener.server(),
      configuration: listener.configuration(serverName: "mlhost-admin", logger: logger),
      onServerRunning: { channel in onBound(channel.localAddress?.port ?? listener.port) },
      logger: logger)
  }

  static func text(_ s: String, type: String = "text/plain; charset=utf-8", status: HTTPResponse.Status = .ok)
    -> Response
  {
    Response(status: status, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: s)))
  }

  static func json(_ value: some Encodable) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Response(
      status: .ok, headers: [.contentType: "application/json"],
      body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
  }
}

struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
  let token: String

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
    -> Response
  {
    let given = request.headers[.authorization] ?? ""
    let expected = "Bearer \(token)"
    let ok = Array(given.utf8).withUnsafeBytes { a in
      Array(expected.utf8).withUnsafeBytes { b in Digest.constantTimeEqual(a, b) }
    }
    guard ok else {
      return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"])
    }
    return try await next(request, context)
  }
}
