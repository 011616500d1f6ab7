import CCurl
import Foundation
import MLHostCore

public struct HTTPRequest: Sendable {
  public var method = "GET"
  public var url: String
  public var headers: [(String, String)] = []
  public var body: [UInt8]?
  /// Seconds for the whole exchange.
  public var timeout: Double = 30
  public var connectTimeout: Double = 10
  /// TLS peer and host verification: on unless a system's settings turn it off.
  public var verifyTLS = true
  public var caBundle: String?
  public var clientCertificate: String?
  public var clientKey: String?
  public var proxy: String?
  /// A stored secret the authenticator adds to the JSON body as it sends it (`secret_json`); never in a journal.
  public var embeddedSecret: EmbeddedSecret?

  public struct EmbeddedSecret: Sendable {
    public var key: String
    public var credential: String

    public init(key: String, credential: String) {
      self.key = key
      self.credential = credential
    }
  }

  public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) {
    self.method = method
    self.url = url
    self.headers = headers
    self.body = body
  }
}

public struct HTTPResponse: Sendable {
  public var status: Int
  /// Header names lowercased, in arrival order (the final response's only, after redirects or 100-continue).
  public var headers: [(String, String)]
  public var body: [UInt8]

  public func header(_ name: String) -> String? {
    let n = name.lowercased()
    return headers.first { $0.0 == n }?.1
  }
}

/// HTTP on libcurl's multi interface: one I/O thread drives every transfer of the process, reusing connections
/// (and HTTP/2 where the server offers it); callers are called back when their transfer ends.
public final class HTTPClient: @unchecked Sendable {
  public static let shared = HTTPClient()

  private let multi: UnsafeMutableRawPointer
  private let lock = NSLock()
  private var submitted: [Transfer] = []
  private var active: [UnsafeMutableRawPointer: Transfer] = [:]
  private var stopping = false

  private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

  public init(maxConnectionsPerHost: Int = 32, maxConnections: Int = 256) {
    _ = Self.globalInit
    multi = curl_multi_init()
    _ = mlh_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
    _ = mlh_curl_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxConnections)
    _ = mlh_curl_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
    let t = Thread { [self] in loop() }
    t.name = "http-io"
    t.start()
  }

  /// Sends `request`; `completion` runs on the I/O thread when it ends.
  public func send(_ request: HTTPRequest, completion: @escaping @Sendable (Result<HTTPResponse, HostError>) -> Void) {
    let transfer = Transfer(request: request, completion: completion)
    lock.withLock { submitted.append(transfer) }
    curl_multi_wakeup(multi)
  }

  public func send(_ request: HTTPRequest) async -> Result<HTTPResponse, HostError> {
    await withCheckedContinuation { c in send(request) { c.resume(returning: $0) } }
  }

  public func shutdown() {
    lock.withLock { stopping = true }
    curl_multi_wakeup(multi)
  }

  private func loop() {
    var running: Int32 = 0
    while true {
      let (batch, stop) = lock.withLock { () -> ([Transfer], Bool) in
        defer { submitted = [] }
        return (submitted, stopping)
      }
      if stop { break }
      for t in batch {
        guard let easy = t.start() else { continue }
        active[easy] = t
        curl_multi_add_handle(multi, easy)
      }
      curl_multi_perform(multi, &running)
      var left: Int32 = 0
      while let msg = curl_multi_info_read(multi, &left) {
        guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle else { continue }
        let code = msg.pointee.data.result
        curl_multi_remove_handle(multi, easy)
        active.removeValue(forKey: easy)?.finish(code)
      }
      curl_multi_poll(multi, nil, 0, 1000, nil)
    }
    for (easy, t) in active {
      curl_multi_remove_handle(multi, easy)
      t.finish(CURLE_ABORTED_BY_CALLBACK)
    }
    curl_multi_cleanup(multi)
  }
}

/// One request in flight: its easy handle, what has arrived so far, and who to tell.
private final class Transfer {
  let request: HTTPRequest
  let completion: @Sendable (Result<HTTPResponse, HostError>) -> Void
  var easy: UnsafeMutableRawPointer?
  var headerList: UnsafeMutablePointer<curl_slist>?
  var body: [UInt8] = []
  var headers: [(String, String)] = []
  var requestBody: UnsafeMutableBufferPointer<CChar>?
  /// curl writes its error text here until the handle is cleaned up: memory of a stable address for the transfer's
  /// whole life (a Swift array's storage may only be borrowed for the length of a closure).
  let errorBuffer: UnsafeMutablePointer<CChar> = {
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
    p.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    return p
  }()

  init(request: HTTPRequest, completion: @escaping @Sendable (Result<HTTPResponse, HostError>) -> Void) {
    self.request = request
    self.completion = completion
  }

  deinit { errorBuffer.deallocate() }

  /// Creates the easy handle; nil (after failing the transfer) when curl refuses the options.
  func start() -> UnsafeMutableRawPointer? {
    guard let h = curl_easy_init() else {
      completion(.failure(HostError(.network, "curl_easy_init failed")))
      return nil
    }
    easy = h
    let me = Unmanaged.passUnretained(self).toOpaque()
    _ = mlh_curl_setopt_str(h, CURLOPT_URL, request.url)
    _ = mlh_curl_setopt_str(h, CURLOPT_CUSTOMREQUEST, request.method)
    if request.method == "HEAD" { _ = mlh_curl_setopt_long(h, CURLOPT_NOBODY, 1) }
    _ = mlh_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
    _ = mlh_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
    _ = mlh_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
    // Redirects are answers, never followed: a credential applied for one origin must not ride a Location header
    // to another (the caller sees the 3xx and decides).
    _ = mlh_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
    _ = mlh_curl_setopt_str(h, CURLOPT_ACCEPT_ENCODING, "")  // every encoding curl decodes (gzip, deflate, br)
    _ = mlh_curl_setopt_long(h, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_2TLS))
    _ = mlh_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, request.verifyTLS ? 1 : 0)
    _ = mlh_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, request.verifyTLS ? 2 : 0)
    if let ca = request.caBundle { _ = mlh_curl_setopt_str(h, CURLOPT_CAINFO, ca) }
    if let cert = request.clientCertificate { _ = mlh_curl_setopt_str(h, CURLOPT_SSLCERT, cert) }
    if let key = request.clientKey { _ = mlh_curl_setopt_str(h, CURLOPT_SSLKEY, key) }
    if let proxy = request.proxy { _ = mlh_curl_setopt_str(h, CURLOPT_PROXY, proxy) }
    _ = mlh_curl_setopt_ptr(h, CURLOPT_ERRORBUFFER, errorBuffer)
    _ = mlh_curl_setopt_write(h, CURLOPT_WRITEFUNCTION, writeBody)
    _ = mlh_curl_setopt_ptr(h, CURLOPT_WRITEDATA, me)
    _ = mlh_curl_setopt_write(h, CURLOPT_HEADERFUNCTION, writeHeader)
    _ = mlh_curl_setopt_ptr(h, CURLOPT_HEADERDATA, me)
    for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
    if request.body != nil && !request.headers.contains(where: { $0.0.lowercased() == "expect" }) {
      headerList = curl_slist_append(headerList, "Expect:")  // no 100-continue round trip
    }
    if let list = headerList { _ = mlh_curl_setopt_slist(h, CURLOPT_HTTPHEADER, list) }
    if let body = request.body {
      // curl reads the body from our buffer while the transfer runs; it lives as long as the transfer.
      let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(body.count, 1))
      body.withUnsafeBytes { raw in
        for (i, b) in raw.enumerated() { buffer[i] = CChar(bitPattern: b) }
      }
      requestBody = buffer
      _ = mlh_curl_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
      _ = mlh_curl_setopt_ptr(h, CURLOPT_POSTFIELDS, buffer.baseAddress)
    }
    return h
  }

  func finish(_ code: CURLcode) {
    defer {
      curl_easy_cleanup(easy)
      curl_slist_free_all(headerList)
      requestBody?.deallocate()
    }
    guard code == CURLE_OK else {
      let detail = String(cString: errorBuffer)
      let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
      completion(.failure(HostError(.network, message, token: Self.token(code))))
      return
    }
    var status = 0
    _ = mlh_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
    completion(.success(HTTPResponse(status: status, headers: headers, body: body)))
  }

  static func token(_ code: CURLcode) -> String {
    switch code {
    case CURLE_OPERATION_TIMEDOUT: return "timeout"
    case CURLE_COULDNT_CONNECT: return "connection refused"
    case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return "dns"
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
      CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR:
      return "tls"
    default: return "network"
    }
  }
}

private let writeBody: curl_write_callback = { data, size, count, user in
  let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
  let n = size * count
  if let data {
    data.withMemoryRebound(to: UInt8.self, capacity: n) {
      t.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
    }
  }
  return n
}

private let writeHeader: curl_write_callback = { data, size, count, user in
  let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
  let n = size * count
  guard let data else { return n }
  let line = data.withMemoryRebound(to: UInt8.self, capacity: n) {
    String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
  }.trimmingCharacters(in: .whitespacesAndNewlines)
  if line.hasPrefix("HTTP/") {
    t.headers = []  // a new response (after a 100 Continue or a redirect): only the last one counts
  } else if let colon = line.firstIndex(of: ":") {
    let name = line[..<colon].lowercased()
    let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    t.headers.append((name, value))
  }
  return n
}
