import COpenSSL

/// Hashes, HMACs and randomness from OpenSSL's libcrypto.
public enum Digest {
  public enum Algorithm: String, Sendable, CaseIterable {
    case sha1, sha256, sha512

    var md: OpaquePointer {
      switch self {
      case .sha1: return EVP_sha1()
      case .sha256: return EVP_sha256()
      case .sha512: return EVP_sha512()
      }
    }
  }

  public static func hash(_ algorithm: Algorithm, _ data: UnsafeRawBufferPointer) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    _ = out.withUnsafeMutableBufferPointer {
      EVP_Digest(data.baseAddress, data.count, $0.baseAddress, &length, algorithm.md, nil)
    }
    return Array(out.prefix(Int(length)))
  }

  public static func hmac(_ algorithm: Algorithm, key: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer) -> [UInt8]
  {
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    _ = out.withUnsafeMutableBufferPointer {
      HMAC(
        algorithm.md, key.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(key.count),
        data.baseAddress?.assumingMemoryBound(to: UInt8.self), data.count, $0.baseAddress, &length)
    }
    return Array(out.prefix(Int(length)))
  }

  public static func hmac(_ algorithm: Algorithm, key: [UInt8], data: [UInt8]) -> [UInt8] {
    key.withUnsafeBytes { k in data.withUnsafeBytes { d in hmac(algorithm, key: k, data: d) } }
  }

  /// Equality in time that depends only on the length, for comparing signatures.
  public static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && (a.count == 0 || CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0)
  }

  public static func randomBytes(_ count: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
    precondition(ok == 1, "OpenSSL RAND_bytes failed: no entropy")
    return out
  }

  /// A random (version 4) UUID in its lowercase text form.
  public static func uuid4() -> String {
    var b = randomBytes(16)
    b[6] = b[6] & 0x0F | 0x40
    b[8] = b[8] & 0x3F | 0x80
    let h = ByteCodecs.hex(b)
    let parts = [
      h.prefix(8), h.dropFirst(8).prefix(4), h.dropFirst(12).prefix(4), h.dropFirst(16).prefix(4), h.dropFirst(20),
    ]
    return parts.joined(separator: "-")
  }
}
