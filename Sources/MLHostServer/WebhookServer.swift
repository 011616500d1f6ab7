import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import MLHostRuntime
import MLHostSystems
import NIOCore

/// The webhook receiver: `POST /hooks/<connector>/<name>`, answered only after the delivery is durably queued.
public enum WebhookServer {
  public static func application(
    ingress: WebhookIngress, listener: ListenerConfig, logger: Logger,
    onBound: @escaping @Sendable (Int) -> Void = { _ in }
  ) throws -> some ApplicationProtocol {
    let router = Router()
    router.post("/hooks/{connector}/{name}") { request, context -> Response in
      // Refused on its announced length, before a byte of the body is read (a sender waiting for
      // `100 Continue` gets its answer at once); the connection then closes.
      if let length = request.headers[.contentLength].flatMap(Int.init), length > ingress.bodyLimit {
        return Response(
          status: .contentTooLarge, headers: [.contentType: "text/plain; charset=utf-8"],
          body: ResponseBody(byteBuffer: ByteBuffer(string: "body larger than \(ingress.bodyLimit) bytes\n")))
      }
      var request = request
      let body = try await request.collectBody(upTo: ingress.bodyLimit)
      var headers: [String: String] = [:]
      for field in request.headers { headers[field.name.canonicalName] = field.value }
      let answer = await ingress.receive(
        connector: context.parameters.get("connector") ?? "", name: context.parameters.get("name") ?? "",
        headers: headers, body: Array(buffer: body))
      return Response(
        status: HTTPResponse.Status(code: answer.status),
        headers: [.contentType: answer.contentType],
        body: ResponseBody(
          byteBuffer: ByteBuffer(string: answer.contentType.hasPrefix("text/") ? answer.message + "\n" : answer.message)
        ))
    }
    // Adobe I/O Events registers a webhook by GET `?challenge=…` and expects the value echoed; other GETs are refused.
    router.get("/hooks/{connector}/{name}") { request, context -> Response in
      guard let value = request.uri.queryParameters.get("challenge"),
        let answer = ingress.challenge(
          connector: context.parameters.get("connector") ?? "", name: context.parameters.get("name") ?? "", value: value
        )
      else { return Response(status: .methodNotAllowed, headers: [.allow: "POST"]) }
      return Response(
        status: HTTPResponse.Status(code: answer.status),
        headers: [.contentType: answer.status == 200 ? "application/json" : "text/plain; charset=utf-8"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: answer.message)))
    }
    for method in [HTTPRequest.Method.put, .patch, .delete] {
      router.on("/hooks/{connector}/{name}", method: method) { _, _ -> Response in
        Response(status: .methodNotAllowed, headers: [.allow: "POST"])
      }
    }
    return Application(
      router: router, server: try listener.server(),
      configuration: listener.configuration(serverName: "mlhost", logger: logger),
      onServerRunning: { channel in onBound(channel.localAddress?.port ?? listener.port) },
      logger: logger)
  }
}
