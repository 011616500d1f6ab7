import Foundation

/// A thread that runs work in order: the one thread a Lua VM (or the SQLite connection) lives on. Work posted from any thread runs here in order; timers fire here. Thousands
/// of suspended coroutines cost nothing but their Lua stacks: no thread or task waits for them.
package final class SerialThread: @unchecked Sendable {
  private let condition = NSCondition()
  private var inbox: [() -> Void] = []
  private var stopping = false
  private var thread: Thread?
  // Touched only on the executor thread.
  private var timers = TimerHeap()
  /// Each executor thread knows its SerialThread through a thread-specific value, which only that thread writes:
  /// asking "am I on the executor?" reads no state another thread writes.
  private static let current: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
  }()

  package init(name: String) {
    // Foundation on Linux gives the OS a thread's name only when the thread sets it itself; without it `top -H`,
    // perf and /proc show the name of a dispatch queue.
    let t = Thread { [unowned self] in
      Thread.current.name = name
      self.loop()
    }
    t.stackSize = 8 << 20
    thread = t
    t.start()
  }

  /// Runs `work` on the executor thread, after everything posted before it.
  package func post(_ work: @escaping @Sendable () -> Void) {
    condition.lock()
    inbox.append(work)
    condition.signal()
    condition.unlock()
  }

  /// Queues `work` behind everything already posted, from the executor itself: the work may capture state that
  /// is confined to this thread.
  package func later(_ work: @escaping () -> Void) {
    assertOnExecutor()
    let box = UncheckedBox(work)
    post { box.value() }
  }

  /// Runs `body` on the executor and blocks the calling thread until it returns: for callers outside Swift
  /// concurrency (the fuzzers' C entry point). Never call it from the executor itself.
  package func runAndWait<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    precondition(!isCurrent, "runAndWait on the executor would wait for itself")
    let done = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    post {
      box.value = body()
      done.signal()
    }
    done.wait()
    return box.value!
  }

  /// Schedules `work` after `delay` seconds. Must be called on the executor.
  package func after(_ delay: Double, _ work: @escaping () -> Void) {
    assertOnExecutor()
    timers.push(deadline: DispatchTime.now().uptimeNanoseconds &+ UInt64(max(0, delay) * 1e9), work)
  }

  /// Stops the thread once the work already posted has run. Pending timers are dropped.
  package func shutdown() {
    condition.lock()
    stopping = true
    condition.signal()
    condition.unlock()
  }

  package var isCurrent: Bool { pthread_getspecific(Self.current) == Unmanaged.passUnretained(self).toOpaque() }

  /// Traps in debug builds when called off the executor thread: a lua_State or sqlite3 connection must never be shared.
  package func assertOnExecutor(file: StaticString = #fileID, line: UInt = #line) {
    assert(isCurrent, "state touched off its owning thread", file: file, line: line)
  }

  private func loop() {
    pthread_setspecific(Self.current, Unmanaged.passUnretained(self).toOpaque())
    while true {
      condition.lock()
      while inbox.isEmpty && !stopping {
        if let next = timers.nextDeadline {
          let now = DispatchTime.now().uptimeNanoseconds
          if next <= now { break }
          _ = condition.wait(until: Date(timeIntervalSinceNow: Double(next - now) / 1e9))
        } else {
          condition.wait()
        }
        if timers.hasDue(at: DispatchTime.now().uptimeNanoseconds) { break }
      }
      let batch = inbox
      inbox.removeAll(keepingCapacity: true)
      let done = stopping && batch.isEmpty
      condition.unlock()
      for work in batch { work() }
      let now = DispatchTime.now().uptimeNanoseconds
      while let due = timers.popDue(at: now) { due() }
      if done { return }
    }
  }
}

/// The thread as the executor of an actor (a Lua VM): the compiler then checks that only code isolated to the
/// actor touches what it confines, and a call into it from outside hops here. Native work never runs here as a
/// task: tasks that preferred this thread cost 15 to 20 % of dispatch throughput (docs/BENCHMARKS.md).
extension SerialThread: SerialExecutor {
  package func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    post { [self] in job.runSynchronously(on: asUnownedSerialExecutor()) }
  }

  /// Code the thread runs outside a task (posted work, timers, Lua calling a native) is isolated to the actor.
  package func isIsolatingCurrentContext() -> Bool? { isCurrent }

  package func checkIsolated() {
    precondition(isCurrent, "code isolated to an actor ran off the actor's thread")
  }
}

/// A binary min-heap of deadlines; equal deadlines fire in insertion order.
struct TimerHeap {
  private var items: [(deadline: UInt64, seq: UInt64, work: () -> Void)] = []
  private var seq: UInt64 = 0

  var nextDeadline: UInt64? { items.first?.deadline }
  func hasDue(at now: UInt64) -> Bool { (items.first?.deadline ?? .max) <= now }

  mutating func push(deadline: UInt64, _ work: @escaping () -> Void) {
    seq &+= 1
    items.append((deadline, seq, work))
    var i = items.count - 1
    while i > 0 {
      let parent = (i - 1) / 2
      guard less(i, parent) else { break }
      items.swapAt(i, parent)
      i = parent
    }
  }

  mutating func popDue(at now: UInt64) -> (() -> Void)? {
    guard let first = items.first, first.deadline <= now else { return nil }
    let last = items.removeLast()
    if !items.isEmpty {
      items[0] = last
      var i = 0
      while true {
        let l = 2 * i + 1
        let r = l + 1
        var m = i
        if l < items.count && less(l, m) { m = l }
        if r < items.count && less(r, m) { m = r }
        if m == i { break }
        items.swapAt(i, m)
        i = m
      }
    }
    return first.work
  }

  private func less(_ a: Int, _ b: Int) -> Bool {
    (items[a].deadline, items[a].seq) < (items[b].deadline, items[b].seq)
  }
}

/// Carries a value that is confined to the VM's executor across the hop back to it.
package struct UncheckedBox<T>: @unchecked Sendable {
  package let value: T
  package init(_ value: T) { self.value = value }
}

/// Carries a result from the executor to a thread waiting on a semaphore (the semaphore orders the accesses).
private final class ResultBox<T>: @unchecked Sendable {
  var value: T?
}
