import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostModules
import MLHostSystems
import MLHostVM

/// What the fuzzers drive (`Sources/mlhost-fuzz`, docs/FUZZING.md) and what `swift test` replays from
/// `Tests/Fuzz/corpus/<kind>/`. Each target takes one input and returns the properties it broke, empty when all
/// held; a crash, a hang or a sanitizer report is a finding as well.
public enum FuzzTargets {
  public enum Kind: String, CaseIterable, Sendable {
    case json, webhook, toml
  }

  public static func run(_ kind: Kind, _ data: [UInt8]) -> [String] {
    switch kind {
    case .json: json(data)
    case .webhook: webhook(data)
    case .toml: toml(data)
    }
  }

  // MARK: json

  /// Decodes `data` with `mlhost.json.decode` in a real Lua state (with and without `decimals`), and checks that
  /// the decoder and the webhook path's validating scan agree on what is JSON, and that whatever decodes
  /// re-encodes to text that decodes again.
  public static func json(_ data: [UInt8]) -> [String] {
    var problems: [String] = []
    let scanned = data.withUnsafeBytes { JSONScan.scan($0) }.valid
    for decimals in [false, true] {
      let outcome = LuaHarness.shared.decode(data, decimals: decimals)
      if let error = outcome.error { problems.append("decode (decimals \(decimals)) raised: \(error)") }
      if outcome.decoded != scanned {
        problems.append(
          "JSONScan says \(scanned ? "valid" : "invalid"), json.decode (decimals \(decimals)) "
            + (outcome.decoded ? "accepts it" : "refuses it: \(outcome.reason)"))
      }
      if let text = outcome.reencodedUndecodable {
        problems.append("json.encode of the decoded value gives text json.decode refuses: \(text.prefix(200))")
      }
    }
    return problems
  }

  // MARK: webhook

  static let secret = Credential(
    name: "fuzz", type: .webhook_secret, fields: ["secret": "fuzz-secret", "previous": "fuzz-previous"], expiresAt: nil)

  /// One delivery as bytes: byte 0 picks the preset, byte 1 how to sign (bit 0: sign with the current secret,
  /// bit 1: with the previous one), then `name: value` header lines up to an empty line, then the body.
  public static func webhook(_ data: [UInt8]) -> [String] {
    guard data.count >= 2 else { return [] }
    let systems = WebhookDeclaration.System.allCases
    let system = systems[Int(data[0]) % systems.count]
    let hook = WebhookDeclaration(
      system: system, topic: "orders/create", name: "orders_create", job: "webhook.\(system.rawValue).orders/create",
      secret: nil, header: system == .hmac ? "X-Signature" : nil)
    var headers: [String: String] = [:]
    var rest = data[2...]
    while let newline = rest.firstIndex(of: 0x0A) {
      let line = rest[rest.startIndex..<newline]
      rest = rest[(newline + 1)...]
      if line.isEmpty { break }
      let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
      let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
      let value = colon == line.endIndex ? "" : String(decoding: line[(colon + 1)...], as: UTF8.self)
      headers[name] = value
    }
    let body = Array(rest)
    let signed = data[1] & 3 != 0 && system != .adobe_commerce && system != .adobe_io
    if signed {
      let key = Array((data[1] & 1 != 0 ? secret.fields["secret"]! : secret.fields["previous"]!).utf8)
      let signatureHeader: String
      switch system {
      case .shopify: signatureHeader = "x-shopify-hmac-sha256"
      case .woocommerce: signatureHeader = "x-wc-webhook-signature"
      case .hmac, .adobe_commerce, .adobe_io: signatureHeader = "x-signature"
      }
      headers[signatureHeader] = ByteCodecs.base64(Digest.hmac(.sha256, key: key, data: body))
    }

    var problems: [String] = []
    let bodyIsJSON =
      String(validating: body, as: UTF8.self) != nil && LuaHarness.shared.decode(body, decimals: false).decoded
    switch WebhookIngress.admit(hook, headers: headers, body: body, secret: secret) {
    case .queue(let input, _, let deliveryID):
      if !signed { problems.append("a delivery without a valid signature was queued") }
      if deliveryID.isEmpty { problems.append("empty delivery id") }
      let inputScan = input.withUnsafeBytes { JSONScan.scan($0) }
      let decoded = LuaHarness.shared.decode(input, decimals: false)
      if !inputScan.valid || !decoded.decoded {
        problems.append(
          "the job input is not JSON (\(decoded.reason)): \(String(decoding: input.prefix(300), as: UTF8.self))")
      }
    case .ping:
      if signed { problems.append("a signed delivery was taken for a ping") }
    case .badSignature(let why):
      if signed { problems.append("a correctly signed delivery was refused: \(why)") }
    case .malformed(let why):
      if bodyIsJSON { problems.append("a signed JSON body was refused as malformed: \(why)") }
    }
    return problems
  }

  // MARK: toml

  /// A schema with a field of every kind, so that validation runs over whatever the reader makes of the input.
  static let schema: SettingsSchema = {
    func field(_ type: String, _ extra: [(LuaValue, LuaValue)] = []) -> LuaValue {
      .map(Dictionary(uniqueKeysWithValues: [(LuaValue.text("type"), LuaValue.text(type))] + extra))
    }
    let shop = field(
      "record",
      [
        (
          "fields",
          .map([
            "domain": field("string", [("required", true)]), "api_version": field("string"), "poll": field("duration"),
          ])
        )
      ])
    let spec: LuaValue = .map([
      "name": field("string"), "count": field("integer"), "ratio": field("number"), "enabled": field("boolean"),
      "shipping": field("decimal"), "interval": field("duration", [("default", "5m")]), "endpoint": field("url"),
      "x3": field("credential"), "mode": field("enum", [("values", ["rest", "graphql"])]),
      "skus": field("array", [("elements", field("string"))]), "accounts": field("map", [("values", field("decimal"))]),
      "waits": field("array", [("elements", field("duration"))]), "shop": shop,
      "shops": field("array", [("elements", shop)]),
    ])
    do { return try SettingsSchema(spec) } catch { fatalError("the fuzz schema is invalid: \(error)") }
  }()

  /// Reads `data` as a settings file (as `ConnectorVersion.load` does) and validates the result against a schema
  /// with a field of every kind. Failures must name a line of the input.
  public static func toml(_ data: [UInt8]) -> [String] {
    let text = String(decoding: data, as: UTF8.self)
    let settings: LuaValue
    do {
      settings = try TOMLReader.parse(text)
    } catch let failure as HostError {
      let lines = text.utf8.count { $0 == 0x0A } + 1
      guard let line = failure.line else { return ["a TOML error names no line: \(failure)"] }
      return (1...lines).contains(line) ? [] : ["error on line \(line) of a \(lines)-line file"]
    } catch {
      return ["TOMLReader threw \(error)"]
    }
    do {
      _ = try schema.validate(settings, base: URL(fileURLWithPath: "/nonexistent/mlhost-fuzz"))
    } catch is SettingsError {
      return []
    } catch {
      return ["validation threw \(error)"]
    }
    return []
  }
}

/// The one Lua VM a fuzzing process decodes with, kept for the life of the process.
final class LuaHarness: Sendable {
  struct Decoded: Sendable {
    var decoded: Bool
    /// Why the decoder refused the text.
    var reason: String
    /// The re-encoded text when it does not decode again.
    var reencodedUndecodable: String?
    /// A Lua error from the harness itself (budget, memory): a finding.
    var error: String?
  }

  static let shared = LuaHarness()

  private let vm: LuaVM
  private let function: Int32

  private static let source = """
    local json = mlhost.json
    return function(text, decimals)
      local value, err, detail = json.decode(text, { decimals = decimals })
      if err then return false, detail.message .. " at " .. detail.position end
      local ok, again = pcall(json.encode, value)
      if ok and select(2, json.decode(again, { decimals = decimals })) then return true, "", again end
      return true, ""
    end
    """

  private init() {
    do {
      vm = try LuaVM(
        name: "fuzz",
        modulePaths: ModulePaths(connectorDirectory: URL(fileURLWithPath: "/nonexistent"), stdlibDirectory: nil),
        logger: Logger(label: "mlhost.fuzz"))
    } catch {
      fatalError("cannot create the fuzzing VM: \(error)")
    }
    let vm = vm
    let made: Result<Int32, LuaError> = vm.runAndWait { vm in
      Result {
        try vm.installSandbox(.mlhost)
        try vm.loadChunk(Data(Self.source.utf8), chunkName: "=fuzz")
        try vm.protectedCall(nargs: 0, nresults: 1)
        return vm.L.ref()
      }.mapError { $0 as? LuaError ?? LuaError(message: "\($0)") }
    }
    do { function = try made.get() } catch { fatalError("cannot prepare the fuzzing VM: \(error)") }
  }

  func decode(_ text: [UInt8], decimals: Bool) -> Decoded {
    let vm = vm
    let function = function
    return vm.runAndWait { vm in
      let L = vm.L
      let top = L.top
      defer { L.top = top }
      L.pushRef(function)
      L.push(bytes: text)
      L.push(decimals)
      do {
        try vm.protectedCall(nargs: 2, nresults: 3)
      } catch {
        return Decoded(decoded: false, reason: "", error: "\(error)")
      }
      return Decoded(decoded: L.bool(at: -3), reason: L.string(at: -2) ?? "", reencodedUndecodable: L.string(at: -1))
    }
  }
}
