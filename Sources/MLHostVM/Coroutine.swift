import MLHostCore
import MLHostLua

/// One run of a job: its identity for logs and errors, and the budget all its coroutines share.
public final class JobContext {
  public let name: String
  public let runID: String
  /// The queue's id for this job, when it came from the store.
  public let jobID: Int64?
  package let budget: LuaBudget
  /// CPU time left, in nanoseconds (nil: unlimited); spent by each resume of the job's coroutines.
  var timeLeft: Int64?

  package init(name: String, runID: String, jobID: Int64? = nil, instructions: Int64, seconds: Double) {
    self.name = name
    self.runID = runID
    self.jobID = jobID
    let nanoseconds = seconds > 0 ? Int64(min(seconds, 1e9) * 1e9) : 0
    budget = LuaBudget(instructions: instructions, cpuNanoseconds: nanoseconds)
    timeLeft = nanoseconds > 0 ? nanoseconds : nil
  }

  /// The run id as logs show it: its first 8 hex digits, enough to tell runs apart in a log and to find the full
  /// id (`run_id` in the audit trail) with a prefix search.
  public static func shortRunID(_ runID: String) -> String {
    String(runID.filter { $0 != "-" }.prefix(8))
  }

  /// Whether the job's budget ran out (every further instruction of it raises).
  var stopped: Bool { budget.stopped }

  /// Arms the CPU-time deadline for one slice of the job (on the VM's thread); `settle` charges what it used.
  func arm() -> Int64 {
    let start = LuaBudget.threadCPUTime
    budget.deadline = timeLeft.map { start + max($0, 0) } ?? 0
    return start
  }

  func settle(startedAt start: Int64) {
    if let left = timeLeft { timeLeft = left - (LuaBudget.threadCPUTime - start) }
    budget.deadline = 0
  }
}

/// A coroutine the host runs and resumes: a job's main body or a child started by `mlhost.each`.
package final class Coroutine {
  package let thread: LuaState
  let anchor: Int32
  package let job: JobContext
  /// Set by a native that suspends; a yield without it came from the script itself.
  package var suspended = false
  /// Keys of `mlhost.lock` this coroutine holds.
  var heldLocks: Set<String> = []
  /// Called once when the coroutine ends; on success its results are on `thread`'s stack.
  let onFinish: (Coroutine, LuaError?) -> Void

  init(thread: LuaState, anchor: Int32, job: JobContext, onFinish: @escaping (Coroutine, LuaError?) -> Void) {
    self.thread = thread
    self.anchor = anchor
    self.job = job
    self.onFinish = onFinish
  }
}

extension LuaVM {
  /// Starts a coroutine for the function on `stack` below its `nargs` arguments (all popped). The first resume is
  /// posted, never nested, so a native that spawns children returns before any child runs.
  @discardableResult
  package func spawn(
    from stack: LuaState, nargs: Int32, job: JobContext, onFinish: @escaping (Coroutine, LuaError?) -> Void
  )
    -> Coroutine
  {
    let thread = stack.newThread()
    let anchor = stack.ref()
    stack.move(nargs + 1, to: thread)
    let co = Coroutine(thread: thread, anchor: anchor, job: job, onFinish: onFinish)
    coroutines[thread.raw] = co
    executor.later { [self] in resume(co, nargs: nargs) }
    return co
  }

  func resume(_ co: Coroutine, nargs: Int32) {
    guard !closed, coroutines[co.thread.raw] === co else { return }
    co.suspended = false
    let (status, nres) = machine.charging(co.job.budget) {
      let started = co.job.arm()
      defer { co.job.settle(startedAt: started) }
      return co.thread.resume(from: L, nargs: nargs)
    }
    switch status {
    case .ok:
      finish(co, error: nil)
    case .yield where co.suspended:
      return
    case .yield:
      co.thread.pop(nres)
      let at = co.thread.callerPosition(level: 0).map { "\($0.file):\($0.line): " } ?? ""
      finish(co, error: LuaError(message: "\(at)coroutine.yield outside a coroutine the script created"))
    default:
      let error = describe(status: status, errorAt: co.thread, thread: co.thread)
      if co.job.stopped || error.outOfMemory {
        finish(co, error: error.of(kind: .limit))
      } else {
        finish(co, error: error.value == nil ? error.of(kind: .script) : error)
      }
    }
  }

  func finish(_ co: Coroutine, error: LuaError?) {
    guard coroutines.removeValue(forKey: co.thread.raw) != nil else { return }
    for next in locks.abandon(by: co) { executor.later { [self] in wake(next) } }
    co.onFinish(co, error)
    if !closed { L.unref(co.anchor) }
  }

  /// The host coroutine running `L`, for a native about to suspend; a misuse when `L` cannot
  /// suspend: at load time, inside a coroutine the script created, or across a C boundary such as a metamethod.
  package func suspendable(_ L: LuaState, native: String) throws -> Coroutine {
    guard let co = coroutines[L.raw] else {
      throw HostError.misuse("\(native) must run inside a job, not at load time or in a coroutine the script created")
    }
    guard L.isYieldable else {
      throw HostError.misuse("\(native) cannot suspend here (inside a metamethod or a sort comparator)")
    }
    co.suspended = true
    return co
  }

  /// Resumes a suspended coroutine with the values `push` leaves on its stack (returns how many).
  package func wake(_ co: Coroutine, _ push: (LuaState) -> Int32 = { _ in 0 }) {
    guard !closed, coroutines[co.thread.raw] === co else { return }
    resume(co, nargs: push(co.thread))
  }

  /// Resumes a suspended coroutine so that the native it called raises `error` (a string or a structured error).
  package func wake(_ co: Coroutine, raising error: LuaValue) {
    wake(co) { t in
      t.pushRaiseMarker()
      t.push(error)
      return 2
    }
  }
}
