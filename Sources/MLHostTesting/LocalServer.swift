import Hummingbird
import Logging

/// A Hummingbird server on a free loopback port, stopped by cancelling its task.
public struct LocalServer: Sendable {
  public let port: Int
  let task: Task<Void, any Error>

  public static func start(_ router: Router<BasicRequestContext>) async throws -> LocalServer {
    let (stream, continuation) = AsyncStream<Int>.makeStream()
    let app = Application(
      router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: .quiet)
    let task = Task { try await app.runService() }
    var iterator = stream.makeAsyncIterator()
    let port = await iterator.next() ?? 0
    return LocalServer(port: port, task: task)
  }

  public var url: String { "http://127.0.0.1:\(port)" }
  public func stop() { task.cancel() }
}
