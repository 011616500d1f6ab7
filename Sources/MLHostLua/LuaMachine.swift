import CLua
import CLuaBridge

/// A job's budget as the count hook reads it: instructions (allocations charged too) and CPU time of the VM's
/// thread, shared by every coroutine of the job.
public final class LuaBudget: @unchecked Sendable {
  let cell: UnsafeMutablePointer<mlh_budget>

  /// `instructions` 0 and `cpuNanoseconds` 0 mean unlimited.
  public init(instructions: Int64, cpuNanoseconds: Int64) {
    cell = .allocate(capacity: 1)
    cell.initialize(
      to: mlh_budget(
        remaining: instructions, limit: instructions, deadline_ns: 0, time_limit_ns: cpuNanoseconds,
        stopped: MLH_STOP_NONE))
  }

  deinit { cell.deallocate() }

  /// Whether the budget ran out: every further instruction of the job raises and no message handler runs.
  public var stopped: Bool { cell.pointee.stopped != MLH_STOP_NONE }

  /// The thread CPU clock reading at which the running slice must stop; 0 for none.
  public var deadline: Int64 {
    get { cell.pointee.deadline_ns }
    set { cell.pointee.deadline_ns = newValue }
  }

  /// The calling thread's CPU time in nanoseconds: what `deadline` is measured on.
  public static var threadCPUTime: Int64 { mlh_thread_cpu_ns() }
}

/// A Lua state made with the host's limiting allocator and count hook, and the per-VM context its threads share:
/// what a VM is built on. It owns the state; `close` ends it.
public final class LuaMachine {
  public let state: LuaState
  private let memory: UnsafeMutablePointer<mlh_memory>
  private let context: UnsafeMutablePointer<mlh_vmctx>
  /// The budget charged now, kept alive while the hook may read it.
  private var charged: LuaBudget?

  /// A new state whose allocations count against `memoryLimit` bytes (0: unlimited); nil when none can be made.
  public init?(memoryLimit: Int) {
    memory = .allocate(capacity: 1)
    memory.initialize(to: mlh_memory(used: 0, limit: memoryLimit, peak: 0, enforce: 0, ctx: nil))
    context = .allocate(capacity: 1)
    context.initialize(to: mlh_vmctx(current: nil, owner: nil, granularity: 1000, checks: 0))
    guard let raw = mlh_newstate(memory, context) else {
      memory.deallocate()
      context.deallocate()
      return nil
    }
    state = LuaState(raw)
  }

  deinit {
    memory.deallocate()
    context.deallocate()
  }

  /// Bytes of Lua memory in use now.
  public var memoryInUse: Int { memory.pointee.used }

  /// The object that owns this machine (the VM), unretained, for natives to find it from any of its threads.
  public var owner: UnsafeMutableRawPointer? {
    get { context.pointee.owner }
    set { context.pointee.owner = newValue }
  }

  /// Runs Lua code charged to `budget`, with the memory limit enforced: only around resumes and protected calls,
  /// because an allocation refused inside a Swift native would unwind through Swift.
  public func charging<T>(_ budget: LuaBudget, _ body: () -> T) -> T {
    charged = budget
    context.pointee.current = budget.cell
    memory.pointee.enforce = 1
    defer {
      memory.pointee.enforce = 0
      context.pointee.current = nil
      charged = nil
    }
    return body()
  }

  public func close() { lua_close(state.raw) }
}

/// The standard libraries a sandbox may open.
public enum LuaLibrary: String, Sendable, CaseIterable {
  case base = "_G"
  case coroutine, table, string, math, utf8, os

  var opener: @convention(c) (OpaquePointer?) -> Int32 {
    switch self {
    case .base: luaopen_base
    case .coroutine: luaopen_coroutine
    case .table: luaopen_table
    case .string: luaopen_string
    case .math: luaopen_math
    case .utf8: luaopen_utf8
    case .os: luaopen_os
    }
  }
}

/// Loading, calling and resuming, and the C-side protections a sandbox installs.
extension LuaState {
  /// Compiles `bytes` as a chunk named `name` and pushes it, or pushes the error message.
  public func load(_ bytes: UnsafeRawBufferPointer, name: String, mode: String = "t") -> LuaStatus {
    LuaStatus(mlh_luaL_loadbuffer(raw, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, name, mode))
  }

  /// Calls the function below `nargs` arguments in protected mode, with the message handler at `handler` (0: none).
  public func protectedCall(nargs: Int32, nresults: Int32, handler: Int32) -> LuaStatus {
    LuaStatus(mlh_lua_pcall(raw, nargs, nresults, handler))
  }

  /// A new coroutine of the same VM, pushed on this stack.
  public func newThread() -> LuaState {
    guard let t = lua_newthread(raw) else { fatalError("lua_newthread returned NULL") }
    return LuaState(t)
  }

  /// Resumes this coroutine with `nargs` arguments from its own stack; `from` is the thread resuming it.
  public func resume(from: LuaState, nargs: Int32) -> (status: LuaStatus, results: Int32) {
    var results: Int32 = 0
    let status = lua_resume(raw, from.raw, nargs, &results)
    return (LuaStatus(status), results)
  }

  /// Whether the running function may yield (it runs in a coroutine, not across a C boundary).
  public var isYieldable: Bool { lua_isyieldable(raw) != 0 }

  /// Pushes the marker that, passed first to a resume, makes the suspended native raise the value after it.
  public func pushRaiseMarker() { lua_pushlightuserdata(raw, mlh_raise_marker()) }

  /// Restores the normal hook granularity on a thread whose budget ran out.
  public func resetHook() { mlh_reset_hook(raw) }

  /// Opens `library` and sets its global.
  public func open(_ library: LuaLibrary) {
    luaL_requiref(raw, library.rawValue, library.opener, 1)
    pop()
  }

  /// Replaces `xpcall`, `setmetatable` and `rawset` with the budget- and read-only-aware versions, and the string
  /// library's pattern functions with the step-counted matcher.
  public func installGuards() {
    mlh_install_guards(raw)
    mlh_install_patterns(raw)
  }

  /// Marks the metatable on top of the stack as belonging to a read-only table (`rawset` refuses it).
  public func markReadOnly() { mlh_mark_readonly(raw) }

  /// Pops the top value into upvalue `n` of the function at `function`; false when it has no such upvalue.
  public func setUpvalue(_ function: Int32, _ n: Int32) -> Bool { lua_setupvalue(raw, function, n) != nil }

  /// The `source` of the first frame from `level` up that is script code: C functions and the host's own chunks
  /// are passed over.
  public func scriptSource(level: Int32 = 1) -> String? {
    var ar = lua_Debug()
    var level = level
    while lua_getstack(raw, level, &ar) != 0, lua_getinfo(raw, "S", &ar) != 0 {
      level += 1
      guard let source = ar.source.map({ String(cString: $0) }), !source.hasPrefix(Self.internalChunkPrefix),
        source != "=[C]"
      else { continue }
      return source
    }
    return nil
  }
}
