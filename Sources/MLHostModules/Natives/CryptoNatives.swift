import MLHostCore
import MLHostLua
import MLHostVM

extension NativeModule {
  static let crypto = NativeModule(
    "crypto",
    "Hashes, HMAC, constant-time comparison, randomness and byte encodings, on OpenSSL libcrypto. Digests and "
      + "HMACs are returned as `encoding`: \"hex\" (default), \"base64\", \"base64url\" or \"raw\" bytes.",
    functions: [
      digestFunction(.sha1, sha1Native), digestFunction(.sha256, sha256Native), digestFunction(.sha512, sha512Native),
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
        returns: [("string", "")], { encodeWith($0) { ByteCodecs.base64($0) } }),
      NativeFunction(
        "base64url_encode", "RFC 4648 §5 URL-safe base64 without padding.", params: [("data", "string", "")],
        returns: [("string", "")], { encodeWith($0) { ByteCodecs.base64($0, urlSafe: true, padded: false) } }),
      NativeFunction(
        "hex_encode", "Lowercase hex.", params: [("data", "string", "")], returns: [("string", "")],
        { encodeWith($0) { ByteCodecs.hex($0) } }),
      NativeFunction(
        "base64_decode", "Decodes base64 in either alphabet, padded or not; nil, \"bad base64\" otherwise.",
        params: [("text", "string", "")], returns: [("string?", ""), ("string?", "")],
        { decodeWith($0, "bad base64") { ByteCodecs.fromBase64($0) } }),
      NativeFunction(
        "hex_decode", "Decodes hex; nil, \"bad hex\" otherwise.", params: [("text", "string", "")],
        returns: [("string?", ""), ("string?", "")], { decodeWith($0, "bad hex") { ByteCodecs.fromHex($0) } }),
    ])

  private static func digestFunction(_ algorithm: Digest.Algorithm, _ fn: LuaNative) -> NativeFunction {
    NativeFunction(
      algorithm.rawValue, "The \(algorithm.rawValue.uppercased()) digest of `data`.",
      params: [("data", "string", ""), ("encoding", "mlhost.Encoding?", "default hex")], returns: [("string", "")], fn)
  }
}

private func encodingArg(_ L: LuaState, _ index: Int32, _ fname: String) -> String? {
  guard !L.isNoneOrNil(index) else { return "hex" }
  if let e = L.string(at: index), ["hex", "base64", "base64url", "raw"].contains(e) { return e }
  _ = L.argError(index, fname, "encoding must be hex, base64, base64url or raw")
  return nil
}

private func pushEncoded(_ L: LuaState, _ bytes: [UInt8], _ encoding: String) {
  switch encoding {
  case "raw": L.push(bytes: bytes)
  case "base64": L.push(ByteCodecs.base64(bytes))
  case "base64url": L.push(ByteCodecs.base64(bytes, urlSafe: true, padded: false))
  default: L.push(ByteCodecs.hex(bytes))
  }
}

private func stringArg(_ L: LuaState, _ index: Int32, _ fname: String) -> UnsafeRawBufferPointer? {
  guard L.type(at: index) == .string, let b = L.bytes(at: index) else {
    _ = L.argError(index, fname, "string expected, got \(L.typeName(at: index))")
    return nil
  }
  return b
}

private func digest(_ raw: OpaquePointer?, _ algorithm: Digest.Algorithm) -> Int32 {
  let L = LuaState(raw!)
  guard let data = stringArg(L, 1, algorithm.rawValue), let enc = encodingArg(L, 2, algorithm.rawValue) else {
    return NativeStatus.raise
  }
  pushEncoded(L, Digest.hash(algorithm, data), enc)
  return 1
}

private let sha1Native: LuaNative = { digest($0, .sha1) }
private let sha256Native: LuaNative = { digest($0, .sha256) }
private let sha512Native: LuaNative = { digest($0, .sha512) }

private let hmacNative: LuaNative = { raw in
  let L = LuaState(raw!)
  guard let name = L.string(at: 1), let algorithm = Digest.Algorithm(rawValue: name) else {
    return L.argError(1, "hmac", "algorithm must be sha1, sha256 or sha512")
  }
  guard let key = stringArg(L, 2, "hmac"), let data = stringArg(L, 3, "hmac"), let enc = encodingArg(L, 4, "hmac")
  else {
    return NativeStatus.raise
  }
  pushEncoded(L, Digest.hmac(algorithm, key: key, data: data), enc)
  return 1
}

private let equalsNative: LuaNative = { raw in
  let L = LuaState(raw!)
  guard let a = stringArg(L, 1, "equals"), let b = stringArg(L, 2, "equals") else { return NativeStatus.raise }
  L.push(Digest.constantTimeEqual(a, b))
  return 1
}

private let randomNative: LuaNative = { raw in
  let L = LuaState(raw!)
  guard let n = L.integer(at: 1), (1...65536).contains(n) else {
    return L.argError(1, "random_bytes", "a count from 1 to 65536 expected")
  }
  L.push(bytes: Digest.randomBytes(Int(n)))
  return 1
}

private let uuidNative: LuaNative = { raw in
  LuaState(raw!).push(Digest.uuid4())
  return 1
}

private func encodeWith(_ raw: OpaquePointer?, _ encode: (UnsafeRawBufferPointer) -> String) -> Int32 {
  let L = LuaState(raw!)
  guard let data = stringArg(L, 1, "encode") else { return NativeStatus.raise }
  L.push(encode(data))
  return 1
}

private func decodeWith(_ raw: OpaquePointer?, _ failure: String, _ decode: (UnsafeRawBufferPointer) -> [UInt8]?)
  -> Int32
{
  let L = LuaState(raw!)
  guard let text = stringArg(L, 1, "decode") else { return NativeStatus.raise }
  guard let bytes = decode(text) else {
    L.pushNil()
    L.push(failure)
    return 2
  }
  L.push(bytes: bytes)
  return 1
}
