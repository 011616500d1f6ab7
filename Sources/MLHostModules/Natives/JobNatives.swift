import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostStore
import MLHostVM

/// The natives job.lua is built on. They reach the store, so they suspend the calling coroutine while it works.
enum JobNatives {
  static let functions: [(String, NativeBody)] = [
    ("handler_for", handlerFor), ("commit_record", commitRecord), ("mapping_get", mappingGet),
    ("cursor_get", cursorGet), ("cursor_set", cursorSet), ("enqueue", enqueueJob), ("now", nowNative),
    ("where", whereNative), ("traceback", tracebackNative),
  ]

  /// Loads job.lua with these natives and keeps its job metatable and `replay`.
  static func install(_ vm: isolated LuaVM) throws {
    try vm.loadChunk(Data(PackageResources.job_lua), chunkName: "=mlhost.job")
    let L = vm.L
    L.newTable()
    for (name, fn) in functions {
      vm.push(native: fn)
      L.setField(-2, name)
    }
    L.getGlobal("mlhost")
    _ = L.getField(-1, "json")
    L.remove(at: -2)
    try vm.protectedCall(nargs: 2, nresults: 1)
    _ = L.getField(-1, "meta")
    vm.services.jobMetatable = L.ref()
    _ = L.getField(-1, "replay")
    vm.services.replayRecord = L.ref()
    L.pop()
  }
}

extension LuaVM {
  /// Suspends the coroutine on `L` while work runs off the VM, then resumes it with what `push` leaves. `start`
  /// starts the work and hands it `done`, which it calls once, from the thread that finishes it (the store's,
  /// curl's): the result goes from there straight to the VM's thread, with no hop through the task pool. A task
  /// that ran the work and preferred the VM's thread was measured and rejected: it cost 15 to 20 % of dispatch
  /// throughput (docs/BENCHMARKS.md). A failure raises in the script as "<native>: <error>".
  func suspend<T: Sendable>(
    _ L: LuaState, _ native: String, start: (@escaping Completion<T>) -> Void,
    push: @escaping (LuaState, T) -> NativeResult
  ) throws -> NativeResult {
    let co = try suspendable(L, native: native)
    // The coroutine and `push` stay with the VM: only the work's Sendable result crosses to the other thread and
    // back.
    let box = UncheckedBox((co, push))
    start { [self] result in
      post { vm in
        switch result {
        case .success(let value):
          vm.wake(box.value.0) { box.value.1($0, value).code }
        case .failure(let error):
          // The store or the host failed, not the script: a structured error the queue retries.
          vm.wake(
            box.value.0, raising: ["kind": "host", "message": .text("\(native): \(error)"), "retryable": true])
        }
      }
    }
    return .suspended
  }

  /// The runtime and connector name for a store native.
  func jobRuntime(_ native: String) throws -> (JobRuntime, String) {
    guard let runtime = services.runtime, let name = services.definition?.name else {
      throw HostError.misuse("\(native) needs the host's store (run the connector with `mlhost run`)")
    }
    return (runtime, name)
  }
}

private let handlerFor: NativeBody = { L, vm in
  guard let kind = L.string(at: 1), let ref = vm.services.definition?.handlers[kind] else {
    let known = vm.services.definition?.handlers.keys.sorted().joined(separator: ", ") ?? ""
    throw HostError.misuse(
      "no handler declared for record kind '\(L.string(at: 1) ?? "?")' (declared: \(known.isEmpty ? "none" : known))")
  }
  L.pushRef(ref)
  return .one
}

private func stringField(_ L: LuaState, _ name: String) -> String? {
  defer { L.pop() }
  L.rawGet(1, name)
  if L.type(at: -1) == .string { return L.string(at: -1) }
  if L.type(at: -1) == .number { return String(decoding: L.bytes(at: -1)!, as: UTF8.self) }
  return nil
}

/// A time or duration the Lua side of job:record passed on from the script: finite and non-negative, or nil.
private func numberField(_ L: LuaState, _ name: String) -> Double? {
  defer { L.pop() }
  L.rawGet(1, name)
  return L.number(at: -1, in: 0...1e12)
}

private let commitRecord: NativeBody = { L, vm in
  let (runtime, connector) = try vm.jobRuntime("job:record")
  guard let job = vm.coroutines[L.raw]?.job else { throw HostError.misuse("job:record must run inside a job") }
  guard let outcomeText = stringField(L, "outcome"), let outcome = RecordRow.Outcome(rawValue: outcomeText) else {
    throw HostError.misuse("job:record: bad outcome")
  }
  var row = RecordRow(
    connector: connector, jobID: job.jobID, runID: job.runID, job: job.name, kind: stringField(L, "kind") ?? "",
    key: stringField(L, "key") ?? "", outcome: outcome,
    input: stringField(L, "input").map(SecretRedactor.shared.redact) ?? "null",
    scriptVersion: vm.services.versionHash, startedAt: numberField(L, "started_at") ?? runtime.now(),
    durationMs: numberField(L, "duration_ms") ?? 0)
  row.targetSystem = stringField(L, "target_system").flatMap { $0.isEmpty ? nil : $0 }
  row.targetID = stringField(L, "target_id")
  row.error = stringField(L, "error").map {
    SecretRedactor.shared.redact(LuaError.truncated($0, to: LuaError.maxMessageBytes))
  }
  row.errorAt =
    stringField(L, "error_at") ?? row.error.flatMap { LuaError(message: $0).location.map { "\($0.file):\($0.line)" } }
  row.details = stringField(L, "details").map(SecretRedactor.shared.redact)
  row.replayOf = numberField(L, "replay_of").flatMap { Int64(exactly: $0.rounded(.towardZero)) }
  row.errorKind = stringField(L, "error_kind") == "script" ? "script" : nil
  let mapping =
    (outcome == .created || outcome == .updated) ? row.targetSystem.flatMap { s in row.targetID.map { (s, $0) } } : nil
  // A failed record outside a replay is retried on its own; a failing replay is retried by the queue instead; a
  // script error waits for a reload or a replay.
  let retryAt =
    outcome == .failed && row.replayOf == nil && row.errorKind == nil
    ? runtime.now() + runtime.retry.delay(afterAttempt: 1, retryAfter: numberField(L, "retry_after")) : nil
  let maxAttempts = runtime.retry.maxAttempts
  let traceback = stringField(L, "traceback").map {
    SecretRedactor.shared.redact(LuaError.truncated($0, to: LuaError.maxTracebackBytes))
  }
  let level: Logger.Level = outcome == .failed || outcome == .rejected ? .warning : .info
  var meta = vm.logContext(L)
  meta["record"] = .string("\(row.kind) \(row.key)")
  meta["outcome"] = .string(outcome.rawValue)
  if let t = row.targetID { meta["target"] = .string("\(row.targetSystem ?? "") \(t)") }
  if let e = row.error { meta["error"] = .string(e) }
  // A traceback helps with a script error; an expected failure of a system (retried on its own) needs none.
  if let tb = traceback, row.errorKind != nil { meta["traceback"] = .string(tb) }
  vm.logger.log(level: level, "record \(outcome.rawValue)", metadata: meta)
  let store = runtime.store
  let finalRow = row
  let metrics = runtime.metrics
  return try vm.suspend(
    L, "job:record",
    start: { done in
      store.insert(record: finalRow, mapping: mapping, retryAt: retryAt, maxAttempts: maxAttempts) { result in
        if case .success = result {
          metrics?.record(connector: finalRow.connector, kind: finalRow.kind, outcome: finalRow.outcome.rawValue)
        }
        done(result)
      }
    }
  ) { L, id in
    L.push(id)
    return .one
  }
}

private let mappingGet: NativeBody = { L, vm in
  let (runtime, connector) = try vm.jobRuntime("rec:target_id")
  guard let source = L.string(at: 1), let system = L.string(at: 2) else {
    throw HostError.argument(1, "target_id", "a target system name expected")
  }
  let store = runtime.store
  return try vm.suspend(
    L, "rec:target_id", start: { store.mapping(connector: connector, sourceKey: source, system: system, then: $0) }
  ) {
    L, id in
    L.push(optional: id)
    return .one
  }
}

private let cursorGet: NativeBody = { L, vm in
  let (runtime, connector) = try vm.jobRuntime("job:cursor")
  guard let name = L.string(at: 1) else { throw HostError.argument(1, "cursor", "a cursor name expected") }
  let store = runtime.store
  return try vm.suspend(L, "job:cursor", start: { store.cursor(connector: connector, name: name, then: $0) }) { L, v in
    L.push(optional: v)
    return .one
  }
}

private let cursorSet: NativeBody = { L, vm in
  let (runtime, connector) = try vm.jobRuntime("job:advance_cursor")
  guard let name = L.string(at: 1), let value = L.string(at: 2) else {
    throw HostError.argument(1, "advance_cursor", "a cursor name and value expected")
  }
  let store = runtime.store
  let now = runtime.now()
  return try vm.suspend(
    L, "job:advance_cursor",
    start: { store.setCursor(connector: connector, name: name, value: value, now: now, then: $0) }
  ) { _, _ in .none }
}

/// A year.
private let maxEnqueueDelay = 366.0 * 86_400

private let enqueueJob: NativeBody = { L, vm in
  let (runtime, connector) = try vm.jobRuntime("job:enqueue")
  guard let name = L.string(at: 1), vm.services.definition?.jobs[name] != nil else {
    throw HostError.misuse("job:enqueue: connector '\(connector)' has no job '\(L.string(at: 1) ?? "?")'")
  }
  var delay = 0.0
  if !L.isNoneOrNil(4) {
    guard let d = L.number(at: 4, in: 0...maxEnqueueDelay) else {
      throw HostError.misuse(
        "job:enqueue: `delay` must be a number of seconds from 0 to \(Int(maxEnqueueDelay)), got \(L.describe(at: 4))")
    }
    delay = d
  }
  let job = NewJob(
    connector: connector, job: name, input: L.string(at: 2), trigger: .job, orderingKey: L.string(at: 3),
    maxAttempts: runtime.retry.maxAttempts, runAt: runtime.now() + delay)
  let store = runtime.store
  return try vm.suspend(L, "job:enqueue", start: { store.enqueue(job, then: $0) }) { L, id in
    L.push(id)
    return .one
  }
}

private let nowNative: NativeBody = { L, vm in
  L.push(vm.services.runtime?.now() ?? Date().timeIntervalSince1970)
  return .one
}

private let whereNative: NativeBody = { L, _ in
  let level = Int32(L.integer(at: 1, in: 1...100) ?? 1)
  L.push(optional: L.callerPosition(level: level).map { "\($0.file):\($0.line)" })
  return .one
}

private let tracebackNative: NativeBody = { L, _ in
  L.push(L.traceback(message: L.string(at: 1), level: 1))
  return .one
}
