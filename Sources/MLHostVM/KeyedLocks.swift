/// Named locks for the coroutines of one VM (`mlhost.lock`): a waiter suspends instead of polling, and a
/// coroutine that ends, however it ends (an error, a stopped budget, the VM closing), releases what it held,
/// so no error path can leave a key held for ever.
package struct KeyedLocks {
  private struct Held {
    var owner: Coroutine
    var waiters: [Coroutine] = []
  }

  private var held: [String: Held] = [:]

  package enum Acquired {
    case now
    case waiting
    case alreadyOwned
  }

  /// Takes `key` for `co`, or queues `co` behind its holder.
  package mutating func acquire(_ key: String, for co: Coroutine) -> Acquired {
    guard var entry = held[key] else {
      held[key] = Held(owner: co)
      co.heldLocks.insert(key)
      return .now
    }
    if entry.owner === co { return .alreadyOwned }
    entry.waiters.append(co)
    held[key] = entry
    return .waiting
  }

  /// Releases `key` held by `co` and answers the waiter it passes to (which must be woken), or nil. False when
  /// `co` does not hold `key`.
  package mutating func release(_ key: String, by co: Coroutine) -> (released: Bool, next: Coroutine?) {
    guard var entry = held[key], entry.owner === co else { return (false, nil) }
    co.heldLocks.remove(key)
    guard !entry.waiters.isEmpty else {
      held[key] = nil
      return (true, nil)
    }
    entry.owner = entry.waiters.removeFirst()
    entry.owner.heldLocks.insert(key)
    held[key] = entry
    return (true, entry.owner)
  }

  /// Everything `co` held or waited for, released as it ends; answers the waiters that now hold a key.
  mutating func abandon(by co: Coroutine) -> [Coroutine] {
    for key in held.keys where held[key]!.waiters.contains(where: { $0 === co }) {
      held[key]!.waiters.removeAll { $0 === co }
    }
    return co.heldLocks.compactMap { release($0, by: co).next }
  }
}
