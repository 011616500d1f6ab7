import COpenSSL
import MLHostCore

/// AES-256-GCM sealing with a 12-byte random nonce: `nonce ‖ ciphertext ‖ tag`. The associated data binds a
/// sealed value to its place (a credential's name and type), so values cannot be swapped between entries.
enum SealedBox {
  static func seal(_ plaintext: [UInt8], key: [UInt8], aad: [UInt8]) throws -> [UInt8] {
    guard key.count == 32 else { throw HostError(.setup, "the master key must be 32 bytes") }
    let nonce = Digest.randomBytes(12)
    guard let ctx = EVP_CIPHER_CTX_new() else { throw HostError(.setup, "out of memory") }
    defer { EVP_CIPHER_CTX_free(ctx) }
    var out = [UInt8](repeating: 0, count: plaintext.count + 16)
    var n: Int32 = 0
    var total: Int32 = 0
    var tag = [UInt8](repeating: 0, count: 16)
    guard EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1,
      aad.isEmpty || EVP_EncryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1,
      EVP_EncryptUpdate(ctx, &out, &n, plaintext, Int32(plaintext.count)) == 1
    else { throw HostError(.setup, "encryption failed") }
    total = n
    let ok = out.withUnsafeMutableBufferPointer { EVP_EncryptFinal_ex(ctx, $0.baseAddress! + Int(total), &n) }
    guard ok == 1, EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, &tag) == 1 else {
      throw HostError(.setup, "encryption failed")
    }
    total += n
    return nonce + out.prefix(Int(total)) + tag
  }

  static func open(_ sealed: [UInt8], key: [UInt8], aad: [UInt8]) throws -> [UInt8] {
    guard key.count == 32 else { throw HostError(.setup, "the master key must be 32 bytes") }
    guard sealed.count >= 28 else { throw HostError(.setup, "sealed value is truncated") }
    let nonce = Array(sealed.prefix(12))
    var tag = Array(sealed.suffix(16))
    let body = Array(sealed.dropFirst(12).dropLast(16))
    guard let ctx = EVP_CIPHER_CTX_new() else { throw HostError(.setup, "out of memory") }
    defer { EVP_CIPHER_CTX_free(ctx) }
    var out = [UInt8](repeating: 0, count: body.count + 16)
    var n: Int32 = 0
    guard EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), nil, key, nonce) == 1,
      aad.isEmpty || EVP_DecryptUpdate(ctx, nil, &n, aad, Int32(aad.count)) == 1,
      EVP_DecryptUpdate(ctx, &out, &n, body, Int32(body.count)) == 1,
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, &tag) == 1
    else { throw HostError(.setup, "decryption failed") }
    let total = n
    let ok = out.withUnsafeMutableBufferPointer { EVP_DecryptFinal_ex(ctx, $0.baseAddress! + Int(total), &n) }
    guard ok == 1 else { throw HostError(.setup, "wrong master key, or the vault was altered") }
    return Array(out.prefix(Int(total + n)))
  }
}
