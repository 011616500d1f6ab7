/// When each scheduled job is next due. Kept apart from any clock or I/O so it can be tested alone: the host
/// asks what is due at `now` and how long it may sleep.
public struct ScheduleTable: Sendable {
  public struct Entry: Sendable, Equatable {
    public var spec: ScheduleSpec
    public var next: Double
  }

  public private(set) var entries: [String: Entry] = [:]

  public init() {}

  /// Takes the schedules of a (re)loaded version. A job whose schedule is unchanged keeps its next time; a new or
  /// changed interval job is due at once (a sync's first cycle should not wait an interval), a cron job at its
  /// first firing after `now`.
  public mutating func update(_ schedules: [(job: String, spec: ScheduleSpec)], now: Double) throws {
    var fresh: [String: Entry] = [:]
    for (job, spec) in schedules {
      if let old = entries[job], old.spec == spec {
        fresh[job] = old
      } else if case .every = spec {
        fresh[job] = Entry(spec: spec, next: now)
      } else if let next = try spec.next(after: now) {
        fresh[job] = Entry(spec: spec, next: next)
      }
    }
    entries = fresh
  }

  /// The jobs due at `now`, each moved to its next firing after `now`: a schedule missed several times (the host
  /// was busy or asleep) runs once, not once per missed tick.
  public mutating func takeDue(now: Double) -> [String] {
    var due: [String] = []
    for (job, entry) in entries where entry.next <= now {
      due.append(job)
      if let next = try? entry.spec.next(after: now) {
        entries[job]?.next = next
      } else {
        entries[job] = nil
      }
    }
    return due.sorted()
  }

  public var nextDeadline: Double? { entries.values.map(\.next).min() }
}
