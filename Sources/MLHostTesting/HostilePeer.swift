import Foundation

/// A misbehaving HTTP client on raw sockets, for tests of a listener's defences: it trickles, holds connections
/// open and sends more than it should. Blocking calls run on threads of their own (`HostilePeer.run`), never on
/// the cooperative pool.
public enum HostilePeer {
  /// Runs `body` on a new thread and returns its result.
  public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in Thread.detachNewThread { c.resume(returning: body()) } }
  }

  /// A connected loopback socket (blocking unless `nonBlocking`), or nil.
  public static func connect(port: Int, nonBlocking: Bool = false) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard rc == 0 || (nonBlocking && errno == EINPROGRESS) else {
      close(fd)
      return nil
    }
    return fd
  }

  /// Sends all of `bytes`; false when the peer is gone.
  @discardableResult
  public static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var sent = 0
    while sent < bytes.count {
      let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if n <= 0 { return false }
      sent += n
    }
    return true
  }

  /// Whether the server has closed `fd` (reads what it sent meanwhile into `into`).
  static func closedByPeer(_ fd: Int32, into received: inout [UInt8]) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
      let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
      if n > 0 {
        received += buffer[..<n]
        continue
      }
      return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
    }
  }

  /// Opens `count` connections, sends `head` on each, then one byte of `drip` (round and round) on each every
  /// `interval` seconds, never finishing. Returns, per connection, the seconds after which the server closed it,
  /// or nil if it was still open after `giveUp` seconds (or never connected).
  public static func trickle(port: Int, count: Int, head: String, drip: String, interval: Double = 0.1, giveUp: Double)
    -> [Double?]
  {
    let started = Date()
    let fds = (0..<count).map { _ in connect(port: port) }
    var closedAfter = [Double?](repeating: nil, count: count)
    for fd in fds.compactMap({ $0 }) { send(fd, Array(head.utf8)) }
    let drip = Array(drip.utf8)
    var tick = 0
    while Date().timeIntervalSince(started) < giveUp,
      closedAfter.enumerated().contains(where: { fds[$0.offset] != nil && $0.element == nil })
    {
      for (i, fd) in fds.enumerated() {
        guard let fd, closedAfter[i] == nil else { continue }
        var ignored: [UInt8] = []
        if closedByPeer(fd, into: &ignored) || !send(fd, [drip[tick % drip.count]]) {
          closedAfter[i] = Date().timeIntervalSince(started)
        }
      }
      tick += 1
      usleep(UInt32(interval * 1_000_000))
    }
    for fd in fds.compactMap({ $0 }) { close(fd) }
    return closedAfter
  }

  /// Sends `head` and `body` (the start of a larger body the head announces), sends nothing more, and reads what
  /// comes back until the server closes or `within` seconds pass.
  public static func sendAndListen(port: Int, head: String, body: [UInt8], within seconds: Double) -> (
    answer: String, closed: Bool
  ) {
    guard let fd = connect(port: port) else { return ("", false) }
    defer { close(fd) }
    send(fd, Array(head.utf8))
    send(fd, body)
    let deadline = Date().addingTimeInterval(seconds)
    var received: [UInt8] = []
    while Date() < deadline {
      if closedByPeer(fd, into: &received) { return (String(decoding: received, as: UTF8.self), true) }
      usleep(20_000)
    }
    return (String(decoding: received, as: UTF8.self), false)
  }

  /// `count` connections that connect and say nothing; close them with `release`.
  public static func idle(port: Int, count: Int) -> [Int32] {
    (0..<count).compactMap { _ in connect(port: port, nonBlocking: true) }
  }

  public static func release(_ fds: [Int32]) { for fd in fds { close(fd) } }

  /// Open descriptors of process `pid` (Linux /proc).
  public static func openDescriptors(pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
  }
}
