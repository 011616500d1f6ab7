import Foundation

/// Wakes one waiting loop early: `signal()` ends the current (or next) `wait` at once.
final class WakeSignal: @unchecked Sendable {
  private let lock = NSLock()
  private var pending = false
  private var waiter: CheckedContinuation<Void, Never>?

  func signal() {
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

  /// Returns after `signal()` or `timeout` seconds, whichever comes first.
  func wait(timeout: Double) async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let now: Bool = lock.withLock {
        if pending {
          pending = false
          return true
        }
        waiter = c
        return false
      }
      if now { return c.resume() }
      Task {
        try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
        let w: CheckedContinuation<Void, Never>? = self.lock.withLock {
          defer { self.waiter = nil }
          return self.waiter
        }
        w?.resume()
      }
    }
  }
}
