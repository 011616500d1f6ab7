import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import MLHostCore
import NIOSSL

/// Where a listener binds, whether it serves HTTPS, and what it allows each peer.
public struct ListenerConfig: Sendable {
  public var host: String
  /// 0 picks a free port (tests); the bound port is reported through `onBound`.
  public var port: Int
  public var certificate: String?
  public var privateKey: String?
  public var limits: ConnectionLimits

  public init(
    host: String = "127.0.0.1", port: Int, certificate: String? = nil, privateKey: String? = nil,
    limits: ConnectionLimits = ConnectionLimits()
  ) {
    self.host = host
    self.port = port
    self.certificate = certificate
    self.privateKey = privateKey
    self.limits = limits
  }

  /// The TLS settings when a certificate and key are given (PEM files).
  func tls() throws -> TLSConfiguration? {
    guard let certificate, let privateKey else { return nil }
    let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
    return TLSConfiguration.makeServerConfiguration(
      certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKey, format: .pem)))
  }

  /// HTTP/1 (over TLS when configured) with this listener's deadlines on every connection.
  func server() throws -> HTTPServerBuilder {
    let limits = self.limits
    let http1 = HTTPServerBuilder.http1(
      configuration: .init(additionalChannelHandlers: [ConnectionGuard(limits: limits)]))
    return try tls().map { try .tls(http1, tlsConfiguration: $0) } ?? http1
  }

  /// The address, name and connection cap (beyond it, connections wait in the kernel's queue).
  func configuration(serverName: String, logger: Logger) -> ApplicationConfiguration {
    ApplicationConfiguration(
      address: .hostname(host, port: port), serverName: serverName, backlog: 256,
      availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger))
  }

  /// Whether only this machine can reach the listener.
  public var isLoopback: Bool {
    host == "localhost" || host == "::1" || host.hasPrefix("127.")
  }

  /// Refuses, before anything runs, a port another process already listens on; `option` names what changes it.
  public func refuseIfTaken(option: String) throws {
    guard port != 0 else { return }
    var hints = addrinfo()
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var found: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else {
      throw HostError(
        .setup, "cannot listen on \(host): not an address of this machine (\(option)-host changes it)")
    }
    defer { freeaddrinfo(found) }
    let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
    guard fd >= 0 else { return }
    defer { close(fd) }
    var on: Int32 = 1
    // As the server binds: a port left in TIME_WAIT by the previous run is free.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
    guard bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
      switch errno {
      case EADDRINUSE:
        throw HostError(
          .setup, "port \(port) on \(host) is already in use; stop what holds it or choose another with \(option)-port")
      case EADDRNOTAVAIL:
        throw HostError(
          .setup, "cannot listen on \(host): not an address of this machine (\(option)-host changes it)")
      default:
        throw HostError(
          .setup,
          "cannot listen on \(host) port \(port) (\(String(cString: strerror(errno)))); \(option)-host and \(option)-port change them"
        )
      }
    }
  }
}
