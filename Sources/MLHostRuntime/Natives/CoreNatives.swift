import CLua
import CLuaBridge
import MLHostLua

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
      .connector,
    ],
    fields: [
      NativeField(name: "version", type: "string", summary: "The host's version.") { vm in vm.L.push(MLHostVersion.current) }
    ],
    prepare: { vm in ConnectorMethods.install(vm.L) })
}

public enum MLHostVersion {
  public static let current = "0.1.0"
}

private let sleepNative: mlh_native_fn = { raw in
  let L = LuaState(raw!)
  guard let seconds = L.number(at: 1), seconds >= 0, seconds.isFinite else {
    return L.argError(1, "sleep", "a number of seconds ≥ 0 expected, got \(L.typeName(at: 1))")
  }
  let vm = LuaVM.of(L)
  guard let co = vm.suspendable(L, native: "mlhost.sleep") else { return MLH_RAISE }
  vm.executor.after(seconds) { vm.wake(co) }
  return MLH_SUSPEND
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
  var failure: String?

  init(parent: Coroutine, count: Int, limit: Int, items: Int32, fn: Int32, results: Int32) {
    self.parent = parent
    self.count = count
    self.limit = limit
    self.items = items
    self.fn = fn
    self.results = results
  }
}

private let eachNative: mlh_native_fn = { raw in
  let L = LuaState(raw!)
  guard L.type(at: 1) == LUA_TTABLE else { return L.argError(1, "each", "table expected, got \(L.typeName(at: 1))") }
  guard let limit = L.integer(at: 2), limit >= 1 else {
    return L.argError(2, "each", "a limit ≥ 1 expected")
  }
  guard L.type(at: 3) == LUA_TFUNCTION else {
    return L.argError(3, "each", "function expected, got \(L.typeName(at: 3))")
  }
  let count = L.rawLength(1)
  if count == 0 {
    L.newTable()
    return 1
  }
  let vm = LuaVM.of(L)
  guard let parent = vm.suspendable(L, native: "mlhost.each") else { return MLH_RAISE }
  L.pushValue(at: 1)
  let items = L.ref()
  L.pushValue(at: 3)
  let fn = L.ref()
  L.newTable(array: Int32(count))
  let results = L.ref()
  let run = EachRun(parent: parent, count: count, limit: Int(limit), items: items, fn: fn, results: results)
  vm.eachLaunch(run, from: L)
  return MLH_SUSPEND
}

extension LuaVM {
  fileprivate func eachLaunch(_ run: EachRun, from stack: LuaState) {
    while run.failure == nil && run.next <= run.count && run.running < run.limit {
      let i = run.next
      run.next += 1
      run.running += 1
      stack.pushRef(run.fn)
      stack.pushRef(run.items)
      _ = stack.rawGet(-1, Int64(i))
      mlh_lua_remove(stack.raw, -2)
      stack.push(i)
      spawn(from: stack, nargs: 2, job: run.parent.job) { [self] child, error in
        run.running -= 1
        if let error {
          if run.failure == nil { run.failure = "item \(i): \(error.message)" }
        } else if child.thread.top >= 1 {
          child.thread.top = 1  // the first result
          L.pushRef(run.results)
          lua_xmove(child.thread.raw, L.raw, 1)
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
