import Foundation
import MLHostCore
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

private let systemNative: NativeBody = { L, vm in
  let profile = try L.options(at: 1, native: "system", as: SystemOptions.self).profile(base: vm.services.settingsBase)
  if let existing = vm.services.systems[profile.name], existing.profile != profile {
    throw HostError.misuse("system '\(profile.name)' is already declared with other options")
  }
  if vm.services.systems[profile.name] == nil { vm.services.systems[profile.name] = SystemClient(profile) }
  L.push(profile.name)
  return .one
}

/// The options of `mlhost.http.system`, read with their types checked; files are resolved by `profile(base:)`.
private struct SystemOptions: LuaOptions {
  var profile: SystemProfile
  var files: (caBundle: String?, clientCert: String?, clientKey: String?)
  /// Limits and budgets: NaN, infinities and huge values are refused by the reader.
  static let maxTimeout = 86_400.0, maxRate = 1_000_000.0, maxBucket = 10_000_000.0

  init(from o: LuaOptionsReader) throws {
    guard let name = try o.string("name"), !name.isEmpty else { throw o.misuse("name", "is required") }
    profile = SystemProfile(name: name)
    profile.baseURL = try o.string("base_url").map { url in
      guard SystemProfile.origin(url) != nil, url.hasPrefix("http://") || url.hasPrefix("https://") else {
        throw o.misuse("base_url", "must be an http(s) URL, not '\(url)'")
      }
      return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
    profile.credential = try o.string("credential")
    profile.readOnly = try o.bool("read_only") ?? false
    profile.verifyTLS = try o.bool("verify_tls") ?? true
    files = (try o.string("ca_bundle"), try o.string("client_cert"), try o.string("client_key"))
    profile.proxy = try o.string("proxy")
    profile.timeout = try o.number("timeout", in: 0.001...Self.maxTimeout, unit: "seconds")
    profile.maxConcurrent = try o.integer("max_concurrent", in: 1...1024).map { Int($0) }
    profile.rate = try o.number("rate", in: 0.001...Self.maxRate)
    profile.burst = try o.number("burst", in: 0.001...Self.maxRate)
    profile.retries = try o.integer("retries", in: 0...100).map { Int($0) } ?? 3
    profile.costBucket = try o.field("cost_bucket") { L, i in
      switch L.type(at: i) {
      case .nil_: return nil
      case .boolean: return L.bool(at: i) ? (1000, 50) : nil  // Shopify's smallest plan; the first response corrects it
      case .table:
        let bucket = try L.options(at: i, native: "system: cost_bucket", as: CostBucket.self)
        return (bucket.size ?? 1000, bucket.restore ?? 50)
      default:
        throw HostError.misuse(
          "system: `cost_bucket` must be true or a table {size=, restore=}, got \(L.describe(at: i))")
      }
    }
  }

  /// The profile with its PEM files resolved relative to the settings file; a file that cannot be read is refused.
  func profile(base: URL?) throws -> SystemProfile {
    var p = profile
    func file(_ key: String, _ path: String?) throws -> String? {
      guard let path else { return nil }
      let resolved = path.hasPrefix("/") || base == nil ? path : base!.appendingPathComponent(path).path
      guard FileManager.default.isReadableFile(atPath: resolved) else {
        throw HostError.misuse("system '\(p.name)': `\(key)` file \(resolved) cannot be read")
      }
      return resolved
    }
    p.caBundle = try file("ca_bundle", files.caBundle)
    p.clientCertificate = try file("client_cert", files.clientCert)
    p.clientKey = try file("client_key", files.clientKey)
    return p
  }
}

private struct CostBucket: LuaOptions {
  let size: Double?
  let restore: Double?

  init(from o: LuaOptionsReader) throws {
    size = try o.number("size", in: 1...SystemOptions.maxBucket)
    restore = try o.number("restore", in: 0.001...SystemOptions.maxBucket)
  }
}
