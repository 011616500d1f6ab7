import MLHostCore
import MLHostLua
import MLHostVM

extension NativeModule {
  static let core = NativeModule(
    "core", "Functions directly on `mlhost`.",
    functions: [
      NativeFunction(
        "sleep", "Suspends the calling job for `seconds` without blocking the VM; other jobs run meanwhile.",
        params: [("seconds", "number", "how long, ≥ 0; fractions allowed")], sleepNative),
      NativeFunction(
        "each",
        "Calls `fn(item, i)` for every item, at most `limit` at once, each in its own coroutine; returns the "
          + "results in item order. The first error raised stops new calls, waits for the running ones and is "
          + "raised here, prefixed with the item's index.",
        params: [
          ("items", "any[]", "the items (an array)"), ("limit", "integer", "how many calls may be suspended at once"),
          ("fn", "fun(item: any, i: integer): any", "the call for one item"),
        ],
        returns: [("any[]", "the first result of each call, in item order")], eachNative),
      NativeFunction(
        "lock",
        "Takes the lock `key` for the calling job's coroutine, waiting (suspended, without polling) while another "
          + "coroutine of this connector holds it. The lock is held until `mlhost.unlock(key)` or until the "
          + "coroutine ends, however it ends: an error path never leaves a key held.",
        params: [("key", "string", "any name; coroutines that lock the same name take turns")], lockNative),
      NativeFunction(
        "unlock", "Releases the lock `key` taken by this coroutine; the next waiter, if any, gets it.",
        params: [("key", "string", "the name given to `mlhost.lock`")], unlockNative),
      .connector,
    ],
    fields: [
      NativeField(name: "version", type: "string", summary: "The host's version.") { vm in
        vm.L.push(MLHostVersion.current)
      }
    ],
    prepare: { vm in ConnectorMethods.install(vm) })
}

public enum MLHostVersion {
  public static let current = "0.1.0"
}

/// A day: a job that must wait longer queues a follow-up with `job:enqueue(name, input, {delay = ...})`.
private let maxSleep = 86_400.0

private let sleepNative: NativeBody = { L, vm in
  guard let seconds = L.number(at: 1, in: 0...maxSleep) else {
    throw HostError.argument(
      1, "sleep", "a number of seconds from 0 to \(Int(maxSleep)) expected, got \(L.describe(at: 1))")
  }
  let co = try vm.suspendable(L, native: "mlhost.sleep")
  vm.executor.after(seconds) { vm.wake(co) }
  return .suspended
}

private func lockKey(_ L: LuaState, _ native: String) throws -> String {
  guard let key = L.string(at: 1), (1...1024).contains(key.utf8.count) else {
    throw HostError.argument(1, native, "a key of 1 to 1024 bytes expected, got \(L.describe(at: 1))")
  }
  return key
}

private let lockNative: NativeBody = { L, vm in
  let key = try lockKey(L, "lock")
  let co = try vm.suspendable(L, native: "mlhost.lock")
  switch vm.locks.acquire(key, for: co) {
  case .now:
    co.suspended = false
    return .none
  case .alreadyOwned:
    co.suspended = false
    throw HostError.misuse("mlhost.lock: this coroutine already holds '\(key)'")
  case .waiting:
    return .suspended
  }
}

private let unlockNative: NativeBody = { L, vm in
  let key = try lockKey(L, "unlock")
  guard let co = vm.coroutines[L.raw] else {
    throw HostError.misuse("mlhost.unlock must run in the job coroutine that took the lock")
  }
  let (released, next) = vm.locks.release(key, by: co)
  guard released else { throw HostError.misuse("mlhost.unlock: '\(key)' is not held by this coroutine") }
  if let next { vm.executor.later { vm.wake(next) } }
  return .none
}

/// The state of one `mlhost.each` call while its children run.
private final class EachRun {
  let parent: Coroutine
  let count: Int
  let limit: Int
  /// Registry references: the items, the function, the results table.
  let items: Int32, fn: Int32, results: Int32
  var next = 1
  var running = 0
  var failure: LuaValue?

  init(parent: Coroutine, count: Int, limit: Int, items: Int32, fn: Int32, results: Int32) {
    self.parent = parent
    self.count = count
    self.limit = limit
    self.items = items
    self.fn = fn
    self.results = results
  }
}

private let eachNative: NativeBody = { L, vm in
  try L.check(arg: 1, of: "each", is: .table)
  let limit = try L.integer(arg: 2, of: "each", in: 1...10_000, what: "a limit")
  try L.check(arg: 3, of: "each", is: .function)
  let count = L.rawLength(1)
  if count == 0 {
    L.newTable()
    return .one
  }
  let parent = try vm.suspendable(L, native: "mlhost.each")
  L.pushValue(at: 1)
  let items = L.ref()
  L.pushValue(at: 3)
  let fn = L.ref()
  L.newTable(array: Int32(count))
  let results = L.ref()
  let run = EachRun(parent: parent, count: count, limit: Int(limit), items: items, fn: fn, results: results)
  vm.eachLaunch(run, from: L)
  return .suspended
}

extension LuaVM {
  /// A child's error as `mlhost.each` raises it: prefixed with the item's index, still structured when it was, so
  /// a retryable system error stays retryable.
  fileprivate static func itemError(_ error: LuaError, index: Int) -> LuaValue {
    guard case .map(var fields) = error.value else { return .text("item \(index): \(error.message)") }
    fields[.text("message")] = .text("item \(index): \(error.message)")
    return .map(fields)
  }

  fileprivate func eachLaunch(_ run: EachRun, from stack: LuaState) {
    while run.failure == nil && run.next <= run.count && run.running < run.limit {
      let i = run.next
      run.next += 1
      run.running += 1
      stack.pushRef(run.fn)
      stack.pushRef(run.items)
      _ = stack.rawGet(-1, Int64(i))
      stack.remove(at: -2)
      stack.push(i)
      spawn(from: stack, nargs: 2, job: run.parent.job) { [self] child, error in
        run.running -= 1
        if let error {
          if run.failure == nil { run.failure = Self.itemError(error, index: i) }
        } else if child.thread.top >= 1 {
          child.thread.top = 1  // the first result
          L.pushRef(run.results)
          child.thread.move(1, to: L)
          L.rawSet(-2, Int64(i))
          L.pop()
        }
        eachLaunch(run, from: L)
      }
    }
    guard run.running == 0 else { return }
    L.unref(run.items)
    L.unref(run.fn)
    if let failure = run.failure {
      L.unref(run.results)
      executor.later { [self] in wake(run.parent, raising: failure) }
    } else {
      executor.later { [self] in
        wake(run.parent) { t in
          t.pushRef(run.results)
          self.L.unref(run.results)
          return 1
        }
      }
    }
  }
}
