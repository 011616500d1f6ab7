import Foundation
import NIOSSL

/// Where a listener binds and whether it serves HTTPS.
public struct ListenerConfig: Sendable {
  public var host: String
  /// 0 picks a free port (tests); the bound port is reported through `onBound`.
  public var port: Int
  public var certificate: String?
  public var privateKey: String?

  public init(host: String = "127.0.0.1", port: Int, certificate: String? = nil, privateKey: String? = nil) {
    self.host = host
    self.port = port
    self.certificate = certificate
    self.privateKey = privateKey
  }

  /// The TLS settings when a certificate and key are given (PEM files).
  func tls() throws -> TLSConfiguration? {
    guard let certificate, let privateKey else { return nil }
    let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
    return TLSConfiguration.makeServerConfiguration(
      certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: privateKey, format: .pem)))
  }
}
