import Foundation

/// Wakes one waiting loop early: `signal()` ends the current (or next) `wait` at once.
package final class WakeSignal: @unchecked Sendable {
  private let lock = NSLock()
  private var pending = false
  private var waiter: CheckedContinuation<Void, Never>?
  /// When the one timer in flight fires (uptime nanoseconds), if one is.
  private var timerDeadline: UInt64?

  package init() {}

  package func signal() {
    let w: CheckedContinuation<Void, Never>? = lock.withLock {
      if let w = waiter {
        waiter = nil
        return w
      }
      pending = true
      return nil
    }
    w?.resume()
  }

  /// Returns after `signal()` or within `timeout` seconds, whichever comes first; it may return earlier, so callers
  /// loop. A busy loop is signalled thousands of times a second (once per webhook delivery): arming a timer for
  /// every wait would cost a task and a dispatch timer each time, so a timer already in flight that fires in time
  /// serves the next waits too.
  package func wait(timeout: Double) async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let nanoseconds = UInt64(max(0, timeout) * 1e9)
      let deadline = DispatchTime.now().uptimeNanoseconds &+ nanoseconds
      let arm: Bool? = lock.withLock {
        if pending {
          pending = false
          return nil
        }
        waiter = c
        if let armed = timerDeadline, armed <= deadline { return false }
        timerDeadline = deadline
        return true
      }
      guard let arm else { return c.resume() }
      guard arm else { return }
      Task {
        try? await Task.sleep(nanoseconds: nanoseconds)
        let w: CheckedContinuation<Void, Never>? = self.lock.withLock {
          if self.timerDeadline == deadline { self.timerDeadline = nil }
          defer { self.waiter = nil }
          return self.waiter
        }
        w?.resume()
      }
    }
  }
}
