import Foundation
import MLHostLua
import MLHostSystems
import MLHostVM

extension NativeFunction {
  static let httpSystem = NativeFunction(
    "system",
    "Declares an external system account for `mlhost.http.request { system = name }` and returns its name. Every job "
      + "of the VM shares its budgets. Options: `name` (required), `base_url` (prefix for `path`; absolute URLs must "
      + "stay on its origin), `credential`, `read_only` (the host refuses every mutating call), `verify_tls` (default "
      + "true), `ca_bundle`, `client_cert`, `client_key` (PEM files, relative to the settings file), `proxy`, "
      + "`timeout`, `max_concurrent` (requests in flight), `rate` and `burst` (requests per second, token bucket), "
      + "`cost_bucket` (true or `{size=, restore=}`: Shopify GraphQL calculated cost, corrected by each response's "
      + "`extensions.cost.throttleStatus`), `retries` (extra attempts for retryable failures, default 3). Waiting "
      + "for a budget suspends the job; it never fails it. Declaring a name again with the same options is a no-op.",
    params: [("options", "table", "")],
    returns: [("string", "the system's name")],
    systemNative)
}

private let systemOptions: Set<String> = [
  "name", "base_url", "credential", "read_only", "verify_tls", "ca_bundle", "client_cert", "client_key", "proxy",
  "timeout", "max_concurrent", "rate", "burst", "cost_bucket", "retries",
]

private let systemNative: LuaNative = { raw in
  let L = LuaState(raw!)
  guard L.type(at: 1) == .table else { return L.argError(1, "system", "options table expected") }
  if let refused = L.refuseUnknownOptions(at: 1, native: "system", known: systemOptions) { return refused }
  let vm = LuaVM.of(L)
  let options: LuaValue
  do { options = try L.value(at: 1) } catch { return L.raise("system: \(error)") }
  guard let name = options["name"].stringValue, !name.isEmpty else { return L.raise("system: `name` is required") }
  var p = SystemProfile(name: name)
  do {
    p.baseURL = try options.text("base_url").map { url in
      guard SystemProfile.origin(url) != nil, url.hasPrefix("http://") || url.hasPrefix("https://") else {
        throw SettingError("`base_url` must be an http(s) URL, not '\(url)'")
      }
      return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
    p.credential = try options.text("credential")
    p.readOnly = try options.flag("read_only") ?? false
    p.verifyTLS = try options.flag("verify_tls") ?? true
    let base = vm.services.settingsBase
    p.caBundle = try options.file("ca_bundle", base: base)
    p.clientCertificate = try options.file("client_cert", base: base)
    p.clientKey = try options.file("client_key", base: base)
    p.proxy = try options.text("proxy")
    p.timeout = try options.positive("timeout", max: 86_400)
    p.maxConcurrent = try options.positive("max_concurrent", max: 1024).map { Int($0) }
    p.rate = try options.positive("rate", max: 1_000_000)
    p.burst = try options.positive("burst", max: 1_000_000)
    p.retries = try options.positive("retries", allowZero: true, max: 100).map { Int($0) } ?? 3
    switch options["cost_bucket"] {
    case .nil_, .boolean(false): break
    case .boolean(true): p.costBucket = (1000, 50)  // Shopify's smallest plan; the first response corrects it
    case let table:
      p.costBucket = (
        try table.positive("size", max: 10_000_000) ?? 1000, try table.positive("restore", max: 10_000_000) ?? 50
      )
    }
  } catch {
    return L.raise("system '\(name)': \(error)")
  }
  if let existing = vm.services.systems[name], existing.profile != p {
    return L.raise("system '\(name)' is already declared with other options")
  }
  if vm.services.systems[name] == nil { vm.services.systems[name] = SystemClient(p) }
  L.push(name)
  return 1
}

struct SettingError: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}

extension LuaValue {
  func text(_ key: String) throws -> String? {
    switch self[key] {
    case .nil_: return nil
    case let v:
      guard let s = v.stringValue else { throw SettingError("`\(key)` must be a string") }
      return s
    }
  }

  func flag(_ key: String) throws -> Bool? {
    switch self[key] {
    case .nil_: return nil
    case .boolean(let b): return b
    default: throw SettingError("`\(key)` must be true or false")
    }
  }

  /// A number in (0, max] (or [0, max] with `allowZero`): NaN, infinities and huge values are refused.
  func positive(_ key: String, allowZero: Bool = false, max: Double) throws -> Double? {
    let n: Double
    switch self[key] {
    case .nil_: return nil
    case .integer(let i): n = Double(i)
    case .number(let d): n = d
    default: throw SettingError("`\(key)` must be a number")
    }
    guard n.isFinite, n > 0 || (allowZero && n == 0), n <= max else {
      throw SettingError("`\(key)` must be a number from \(allowZero ? "0" : "more than 0") to \(Int(max)), got \(n)")
    }
    return n
  }

  /// A path that must name an existing file, relative to `base` unless absolute.
  func file(_ key: String, base: URL?) throws -> String? {
    guard let path = try text(key) else { return nil }
    let resolved = path.hasPrefix("/") || base == nil ? path : base!.appendingPathComponent(path).path
    guard FileManager.default.isReadableFile(atPath: resolved) else {
      throw SettingError("`\(key)` file \(resolved) cannot be read")
    }
    return resolved
  }
}
