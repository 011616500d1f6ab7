import MLHostCore
import MLHostLua
import MLHostVM

extension NativeModule {
  static let crypto = NativeModule(
    "crypto",
    "Hashes, HMAC, constant-time comparison, randomness and byte encodings, on OpenSSL libcrypto. Digests and "
      + "HMACs are returned as `encoding`: \"hex\" (default), \"base64\", \"base64url\" or \"raw\" bytes.",
    functions: [
      digestFunction(.sha1), digestFunction(.sha256), digestFunction(.sha512),
      NativeFunction(
        "hmac", "HMAC of `data` under `key` with `algorithm` (sha1, sha256, sha512).",
        params: [
          ("algorithm", "\"sha1\"|\"sha256\"|\"sha512\"", ""), ("key", "string", "the key bytes"),
          ("data", "string", ""), ("encoding", "mlhost.Encoding?", "default hex"),
        ],
        returns: [("string", "")], hmacNative),
      NativeFunction(
        "equals", "Compares two strings in time that does not depend on where they differ (for signatures).",
        params: [("a", "string", ""), ("b", "string", "")], returns: [("boolean", "")], equalsNative),
      NativeFunction(
        "random_bytes", "`n` cryptographically strong random bytes.", params: [("n", "integer", "1…65536")],
        returns: [("string", "")], randomNative),
      NativeFunction("uuid", "A random version 4 UUID.", returns: [("string", "")], uuidNative),
      NativeFunction(
        "base64_encode", "RFC 4648 base64 with padding.", params: [("data", "string", "")],
        returns: [("string", "")], encodeWith { ByteCodecs.base64($0) }),
      NativeFunction(
        "base64url_encode", "RFC 4648 §5 URL-safe base64 without padding.", params: [("data", "string", "")],
        returns: [("string", "")], encodeWith { ByteCodecs.base64($0, urlSafe: true, padded: false) }),
      NativeFunction(
        "hex_encode", "Lowercase hex.", params: [("data", "string", "")], returns: [("string", "")],
        encodeWith { ByteCodecs.hex($0) }),
      NativeFunction(
        "base64_decode", "Decodes base64 in either alphabet, padded or not; nil, \"bad base64\" otherwise.",
        params: [("text", "string", "")], returns: [("string?", ""), ("string?", "")],
        decodeWith("bad base64") { ByteCodecs.fromBase64($0) }),
      NativeFunction(
        "hex_decode", "Decodes hex; nil, \"bad hex\" otherwise.", params: [("text", "string", "")],
        returns: [("string?", ""), ("string?", "")], decodeWith("bad hex") { ByteCodecs.fromHex($0) }),
    ])

  private static func digestFunction(_ algorithm: Digest.Algorithm) -> NativeFunction {
    NativeFunction(
      algorithm.rawValue, "The \(algorithm.rawValue.uppercased()) digest of `data`.",
      params: [("data", "string", ""), ("encoding", "mlhost.Encoding?", "default hex")], returns: [("string", "")]
    ) { L, _ in
      let data = try L.bytes(arg: 1, of: algorithm.rawValue)
      let encoding = try encodingArg(L, 2, algorithm.rawValue)
      pushEncoded(L, Digest.hash(algorithm, data), encoding)
      return .one
    }
  }
}

private func encodingArg(_ L: LuaState, _ index: Int32, _ fname: String) throws -> String {
  guard !L.isNoneOrNil(index) else { return "hex" }
  if let e = L.string(at: index), ["hex", "base64", "base64url", "raw"].contains(e) { return e }
  throw HostError.argument(index, fname, "encoding must be hex, base64, base64url or raw")
}

private func pushEncoded(_ L: LuaState, _ bytes: [UInt8], _ encoding: String) {
  switch encoding {
  case "raw": L.push(bytes: bytes)
  case "base64": L.push(ByteCodecs.base64(bytes))
  case "base64url": L.push(ByteCodecs.base64(bytes, urlSafe: true, padded: false))
  default: L.push(ByteCodecs.hex(bytes))
  }
}

private let hmacNative: NativeBody = { L, _ in
  guard let name = L.string(at: 1), let algorithm = Digest.Algorithm(rawValue: name) else {
    throw HostError.argument(1, "hmac", "algorithm must be sha1, sha256 or sha512")
  }
  let key = try L.bytes(arg: 2, of: "hmac")
  let data = try L.bytes(arg: 3, of: "hmac")
  let encoding = try encodingArg(L, 4, "hmac")
  pushEncoded(L, Digest.hmac(algorithm, key: key, data: data), encoding)
  return .one
}

private let equalsNative: NativeBody = { L, _ in
  L.push(Digest.constantTimeEqual(try L.bytes(arg: 1, of: "equals"), try L.bytes(arg: 2, of: "equals")))
  return .one
}

private let randomNative: NativeBody = { L, _ in
  let n = try L.integer(arg: 1, of: "random_bytes", in: 1...65536, what: "a count")
  L.push(bytes: Digest.randomBytes(Int(n)))
  return .one
}

private let uuidNative: NativeBody = { L, _ in
  L.push(Digest.uuid4())
  return .one
}

private func encodeWith(_ encode: @escaping @Sendable (UnsafeRawBufferPointer) -> String) -> NativeBody {
  { L, _ in
    L.push(encode(try L.bytes(arg: 1, of: "encode")))
    return .one
  }
}

/// A decoder's native: the bytes, or nil and `failure` for text that is not in its encoding.
private func decodeWith(_ failure: String, _ decode: @escaping @Sendable (UnsafeRawBufferPointer) -> [UInt8]?)
  -> NativeBody
{
  { L, _ in
    guard let bytes = decode(try L.bytes(arg: 1, of: "decode")) else {
      L.pushNil()
      L.push(failure)
      return .values(2)
    }
    L.push(bytes: bytes)
    return .one
  }
}
