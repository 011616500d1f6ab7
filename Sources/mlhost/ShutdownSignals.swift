import Dispatch
import Foundation

/// SIGTERM and SIGINT, caught from the first moment of a run: a signal that arrives while the host is still
/// starting is kept and handed to it once it can stop gracefully, instead of killing the process half-started.
final class ShutdownSignals: @unchecked Sendable {
  private let lock = NSLock()
  private var received = false
  private var handler: (@Sendable () -> Void)?
  private var sources: [any DispatchSourceSignal] = []

  init() {
    for number in [SIGTERM, SIGINT] {
      signal(number, SIG_IGN)  // the dispatch source receives it instead of the default action
      let source = DispatchSource.makeSignalSource(signal: number)
      source.setEventHandler { [weak self] in self?.fire() }
      source.resume()
      sources.append(source)
    }
  }

  private func fire() {
    let handler = lock.withLock {
      received = true
      return self.handler
    }
    handler?()
  }

  /// Calls `body` on each signal from now on, and at once when one came already.
  func onSignal(_ body: @escaping @Sendable () -> Void) {
    let already = lock.withLock {
      handler = body
      return received
    }
    if already { body() }
  }

  deinit { for source in sources { source.cancel() } }
}
