import Foundation
import MLHostCore
import MLHostStore

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// `mlhost run` as a child process on free loopback ports, with its state folder, for end-to-end tests.
public final class HostProcess: @unchecked Sendable {
  public let process: MLHostProcess
  public let state: URL
  public let webhookURL: String
  public let adminURL: String

  /// Starts the host on `scripts` (`executable`: see `MLHostProcess.start`) and waits until both listeners are up.
  public init(scripts: [URL], state: URL, extra: [String] = [], executable: URL? = nil) async throws {
    self.state = state
    process = try MLHostProcess.start(
      ["run"] + scripts.map(\.path)
        + ["--state", state.path, "--webhook-port", "0", "--admin-port", "0", "--grace", "5"] + extra,
      executable: executable)
    guard await process.waitForOutput("admin API listening", within: 30),
      await process.waitForOutput("webhooks listening", within: 5)
    else {
      process.kill()
      throw CocoaError(
        .fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "host did not start:\n\(process.output)"])
    }
    webhookURL = Self.url(on: "webhooks listening", in: process.output)
    adminURL = Self.url(on: "admin API listening", in: process.output)
  }

  /// The `url=` field of the first log line that says `message`.
  static func url(on message: String, in text: String) -> String {
    guard let line = text.split(separator: "\n").first(where: { $0.contains(message) }),
      let r = line.range(of: "url=")
    else { return "" }
    return String(line[r.upperBound...].prefix { !$0.isWhitespace })
  }

  /// Sends one webhook delivery; returns the HTTP status (0 when the connection failed).
  public func post(_ path: String, body: [UInt8], headers: [String: String]) async -> Int {
    var request = URLRequest(url: URL(string: webhookURL + path)!)
    request.httpMethod = "POST"
    request.httpBody = Data(body)
    for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
    guard let (_, response) = try? await URLSession.shared.data(for: request) else { return 0 }
    return (response as? HTTPURLResponse)?.statusCode ?? 0
  }

  /// Calls the admin API with the host's bearer token.
  public func admin(_ method: String, _ path: String, body: String? = nil) async throws -> (Int, String) {
    var request = URLRequest(url: URL(string: adminURL + path)!)
    request.httpMethod = method
    request.httpBody = body.map { Data($0.utf8) }
    let token = try String(contentsOf: state.appendingPathComponent("admin.token"), encoding: .utf8)
    request.setValue(
      "Bearer \(token.trimmingCharacters(in: .whitespacesAndNewlines))", forHTTPHeaderField: "Authorization")
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
  }

  public func store() throws -> SQLiteStore { try SQLiteStore(directory: state) }

  public func kill9() async {
    process.signal(SIGKILL)
    _ = await process.wait(within: 10)
  }
  public func stop() async -> Int32? {
    process.signal(SIGTERM)
    return await process.wait(within: 20)
  }
}

/// Shopify's signature header value for `body` under `secret`.
public func shopifySignature(_ body: [UInt8], secret: String) -> String {
  ByteCodecs.base64(Digest.hmac(.sha256, key: Array(secret.utf8), data: body))
}
