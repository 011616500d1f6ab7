import Foundation
import MLHostLua
import MLHostStore
import MLHostVM

/// Where each connector was loaded from, kept in the store by every host: the operator verbs (`mlhost replay`,
/// `mlhost trigger`) load a connector the same way when no host runs on the state folder.
extension ConnectorSource {
  /// The store's key for the source of connector `name`; kept under no connector's name, so no script can set it.
  static func storeKey(_ name: String) -> String { "source:\(name)" }

  /// The source as JSON. Overrides are the scalars `--set` gives, system settings those `--sandbox` gives.
  var savedJSON: String {
    var object: [String: Any] = [
      "script": script.path, "memory_bytes": limits.memoryBytes, "job_instructions": limits.jobInstructions,
      "job_seconds": limits.jobSeconds,
    ]
    object["settings"] = settingsFile?.path
    object["stdlib"] = stdlib?.path
    object["overrides"] = Self.typed(overrides)
    object["system_settings"] = Self.typed(systemSettings)
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }

  init?(savedJSON: String) {
    guard let object = try? JSONSerialization.jsonObject(with: Data(savedJSON.utf8)) as? [String: Any],
      let script = object["script"] as? String
    else { return nil }
    var limits = VMLimits()
    if let m = object["memory_bytes"] as? NSNumber { limits.memoryBytes = m.intValue }
    if let i = object["job_instructions"] as? NSNumber { limits.jobInstructions = i.int64Value }
    if let s = object["job_seconds"] as? NSNumber { limits.jobSeconds = s.doubleValue }
    self.init(
      script: URL(fileURLWithPath: script),
      settingsFile: (object["settings"] as? String).map(URL.init(fileURLWithPath:)),
      stdlib: (object["stdlib"] as? String).map(URL.init(fileURLWithPath:)), limits: limits)
    overrides = Self.untyped(object["overrides"])
    systemSettings = Self.untyped(object["system_settings"])
  }
}

extension ConnectorSource {
  // Typed by a prefix: JSON numbers cannot tell 1 from true, nor 2 from 2.0, once read back.
  private static func typed(_ values: [String: LuaValue]) -> [String: String] {
    values.mapValues { value in
      switch value {
      case .boolean(let b): "b:\(b)"
      case .integer(let i): "i:\(i)"
      case .number(let d): "n:\(d)"
      default: "s:" + (value.stringValue ?? "")
      }
    }
  }

  private static func untyped(_ saved: Any?) -> [String: LuaValue] {
    ((saved as? [String: String]) ?? [:]).mapValues { typed in
      let text = String(typed.dropFirst(2))
      switch typed.prefix(2) {
      case "b:": return .boolean(text == "true")
      case "i:": return Int64(text).map(LuaValue.integer) ?? .text(text)
      case "n:": return Double(text).map(LuaValue.number) ?? .text(text)
      default: return .text(text)
      }
    }
  }
}

extension JobStore {
  /// Remembers where connector `name` was loaded from.
  func saveSource(_ source: ConnectorSource, name: String) async throws {
    try await setValue(connector: "", key: ConnectorSource.storeKey(name), value: source.savedJSON)
  }

  /// Where connector `name` was last loaded from by a host on this store, or nil.
  public func savedSource(of name: String) async throws -> ConnectorSource? {
    try await value(connector: "", key: ConnectorSource.storeKey(name)).flatMap(ConnectorSource.init(savedJSON:))
  }
}
