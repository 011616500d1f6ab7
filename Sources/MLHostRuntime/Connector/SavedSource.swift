import Foundation
import MLHostLua

/// Where each connector was loaded from, kept in the store by every host: the operator verbs (`mlhost replay`,
/// `mlhost trigger`) load a connector the same way when no host runs on the state folder.
extension ConnectorSource {
  /// The store's key for the source of connector `name`; kept under no connector's name, so no script can set it.
  static func storeKey(_ name: String) -> String { "source:\(name)" }

  /// The source as JSON. Overrides are the scalars `--set` and `--sandbox` give.
  var savedJSON: String {
    var object: [String: Any] = [
      "script": script.path, "memory_bytes": limits.memoryBytes, "job_instructions": limits.jobInstructions,
      "job_seconds": limits.jobSeconds,
    ]
    object["settings"] = settingsFile?.path
    object["stdlib"] = stdlib?.path
    // Typed by a prefix: JSON numbers cannot tell 1 from true, nor 2 from 2.0, once read back.
    var overrides: [String: String] = [:]
    for (path, value) in self.overrides {
      switch value {
      case .boolean(let b): overrides[path] = "b:\(b)"
      case .integer(let i): overrides[path] = "i:\(i)"
      case .number(let d): overrides[path] = "n:\(d)"
      default: overrides[path] = "s:" + (value.stringValue ?? "")
      }
    }
    object["overrides"] = overrides
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
      script: URL(fileURLWithPath: script), settingsFile: (object["settings"] as? String).map(URL.init(fileURLWithPath:)),
      stdlib: (object["stdlib"] as? String).map(URL.init(fileURLWithPath:)), limits: limits)
    for (path, typed) in object["overrides"] as? [String: String] ?? [:] {
      let text = String(typed.dropFirst(2))
      switch typed.prefix(2) {
      case "b:": overrides[path] = .boolean(text == "true")
      case "i:": overrides[path] = Int64(text).map(LuaValue.integer) ?? .text(text)
      case "n:": overrides[path] = Double(text).map(LuaValue.number) ?? .text(text)
      default: overrides[path] = .text(text)
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
