import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Testing

/// Vectors from RFC 4231 (HMAC-SHA-256/512) and RFC 4648 (base64, base16), and FIPS 180 examples.
@Suite struct CryptoTests {
  @Test func hmacMatchesRFC4231() async throws {
    let v = try await evalLua(
      """
      local c = mlhost.crypto
      local key1 = string.rep("\\x0b", 20)
      local key6 = string.rep("\\xaa", 131)
      return {
        c.hmac("sha256", key1, "Hi There"),
        c.hmac("sha512", key1, "Hi There"),
        c.hmac("sha256", "Jefe", "what do ya want for nothing?"),
        c.hmac("sha256", key6, "Test Using Larger Than Block-Size Key - Hash Key First"),
        c.hmac("sha256", "Jefe", "what do ya want for nothing?", "base64"),
      }
      """)
    #expect(
      v == [
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        .text(
          "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
            + "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=",
      ])
  }

  @Test func digests() async throws {
    let v = try await evalLua(
      """
      local c = mlhost.crypto
      return { c.sha1("abc"), c.sha256("abc"), #c.sha512("abc", "raw"), c.sha256("", "base64") }
      """)
    #expect(
      v == [
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        .integer(64),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
      ])
  }

  @Test func base64MatchesRFC4648() async throws {
    let pairs = [
      ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
      ("foobar", "Zm9vYmFy"),
    ]
    for (plain, encoded) in pairs {
      let v = try await evalLua(
        """
        local c = mlhost.crypto
        return { c.base64_encode('\(plain)'), c.base64_decode('\(encoded)'), c.hex_encode('\(plain)') }
        """)
      #expect(v == [.text(encoded), .text(plain), .text(ByteCodecs.hex(Array(plain.utf8)))])
    }
    #expect(try await evalLua("return mlhost.crypto.base64url_encode('\\xfb\\xff')") == "-_8")
    #expect(try await evalLua("return mlhost.crypto.base64_decode('-_8')") == .string([0xFB, 0xFF]))
    #expect(try await evalLua("return select(2, mlhost.crypto.base64_decode('Zm9v!'))") == "bad base64")
    #expect(try await evalLua("return mlhost.crypto.hex_decode('666F6f')") == "foo")
  }

  @Test func equalsRandomAndUUID() async throws {
    let v = try await evalLua(
      """
      local c = mlhost.crypto
      local u = c.uuid()
      return { c.equals("abc", "abc"), c.equals("abc", "abd"), c.equals("abc", "ab"), #c.random_bytes(32),
               c.random_bytes(16) ~= c.random_bytes(16), #u, u:sub(15, 15), u ~= c.uuid() }
      """)
    #expect(v == [true, false, false, .integer(32), true, .integer(36), "4", true])
  }
}
