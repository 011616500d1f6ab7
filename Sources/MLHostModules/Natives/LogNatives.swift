import Logging
import MLHostCore
import MLHostLua
import MLHostVM

extension NativeModule {
  static let log = NativeModule(
    "log", "Structured logging. Every line carries the connector, the job and the script line that logged it.",
    functions: [
      logFunction("debug", .debug), logFunction("info", .info), logFunction("warn", .warning),
      logFunction("error", .error),
    ])

  private static func logFunction(_ name: String, _ level: Logger.Level) -> NativeFunction {
    NativeFunction(
      name, "Logs `message` at level \(name), with `fields` as structured key/values.",
      params: [("message", "string", "what happened"), ("fields", "table?", "key/values to attach")]
    ) { L, vm in try logLine(L, vm, at: level) }
  }
}

private func logLine(_ L: LuaState, _ vm: isolated LuaVM, at level: Logger.Level) throws -> NativeResult {
  guard vm.logger.logLevel <= level else { return .none }
  guard let message = L.string(at: 1) ?? L.number(at: 1).map({ "\($0)" }) else {
    throw HostError.argument(1, "log", "string expected, got \(L.typeName(at: 1))")
  }
  var metadata = vm.logContext(L)
  if L.type(at: 2) == .table {
    L.pushNil()
    while L.next(2) {
      // A script's field never overwrites the host's (`run`, `job`, `at`): it is kept beside it.
      if let key = L.string(at: -2) {
        metadata[metadata[key] == nil ? key : "lua.\(key)"] = metadataValue(L, at: -1, depth: 0)
      }
      L.pop()
    }
  } else if !L.isNoneOrNil(2) {
    throw HostError.argument(2, "log", "table of fields expected, got \(L.typeName(at: 2))")
  }
  vm.logger.log(level: level, "\(message)", metadata: metadata)
  return .none
}

private func metadataValue(_ L: LuaState, at index: Int32, depth: Int) -> Logger.MetadataValue {
  switch L.type(at: index) {
  case .string: return .string(L.string(at: index) ?? "")
  case .number:
    if L.isInteger(index) { return .stringConvertible(L.integer(at: index) ?? 0) }
    return .stringConvertible(L.number(at: index) ?? 0)
  case .boolean: return .stringConvertible(L.bool(at: index))
  case .nil_: return .string("nil")
  case .table where depth < 8 && L.checkStack(3):
    let t = L.absIndex(index)
    var dict: [String: Logger.MetadataValue] = [:]
    L.pushNil()
    while L.next(t) {
      let key = L.string(at: -2) ?? L.integer(at: -2).map { "\($0)" } ?? L.typeName(at: -2)
      dict[key] = metadataValue(L, at: -1, depth: depth + 1)
      L.pop()
    }
    return .dictionary(dict)
  case .userdata:
    if let d = ExactDecimal.check(L, index) { return .string(d.description) }
    return .string("<\(L.typeName(at: index))>")
  default:
    return .string("<\(L.typeName(at: index))>")
  }
}

extension LuaVM {
  /// Connector, job and script line for a log line written by Lua code on `L`.
  func logContext(_ L: LuaState) -> Logger.Metadata {
    var m: Logger.Metadata = [:]
    // The first frame in the connector's own code: host-provided chunks (job.lua) are not what a reader wants.
    if let pos = L.callerPosition(level: 1) { m["at"] = "\(pos.file):\(pos.line)" }
    if let job = coroutines[L.raw]?.job {
      m["job"] = .string(job.name)
      m["run"] = .string(JobContext.shortRunID(job.runID))
    }
    return m
  }
}

/// `print` goes to the log at info level, so nothing a script prints is lost or interleaved with stdout.
let printNative: NativeBody = { L, vm in
  var parts: [String] = []
  for i in 1...max(L.top, 1) where i <= L.top {
    switch L.type(at: i) {
    case .string, .number: parts.append(String(decoding: L.bytes(at: i)!, as: UTF8.self))
    case .boolean: parts.append(L.bool(at: i) ? "true" : "false")
    case .nil_: parts.append("nil")
    default: parts.append(ExactDecimal.check(L, i)?.description ?? "<\(L.typeName(at: i))>")
    }
  }
  vm.logger.info("\(parts.joined(separator: "\t"))", metadata: vm.logContext(L))
  return .none
}
