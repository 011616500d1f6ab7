import Foundation
import MLHostCore

/// What queued a job; stored as its raw value.
public enum JobTrigger: String, Sendable, CaseIterable {
  /// Its schedule fired.
  case schedule
  /// A webhook delivery (its job's input is the delivery).
  case webhook
  /// `mlhost trigger` or the admin API.
  case manual
  /// `mlhost replay` of an audit row.
  case replay
  /// A failed record's own retry, queued with its failure.
  case retry
  /// A reload re-ran what the previous version failed with a script error.
  case reload
  /// `mlhost run --once` (and `mlhost test`'s `poll`): every scheduled job once, now.
  case cycle
  /// A script queued it (`job:enqueue`).
  case job

  /// The trigger a stored row names; a row this host cannot read is an error, never a guess.
  init(stored: String) throws {
    guard let t = JobTrigger(rawValue: stored) else { throw unknownStoredValue(column: "jobs.trigger", value: stored) }
    self = t
  }
}

/// Where a job is in the queue; stored as its raw value.
public enum JobState: String, Sendable, CaseIterable {
  case queued, running, succeeded
  /// Every attempt used, or its host died under it too often: it waits for a person (`mlhost replay`/`trigger`).
  case dead

  init(stored: String) throws {
    guard let s = JobState(rawValue: stored) else { throw unknownStoredValue(column: "jobs.state", value: stored) }
    self = s
  }
}

/// A stored value this host does not know (a newer host wrote it, or the file was edited by hand).
func unknownStoredValue(column: String, value: String) -> HostError {
  HostError(.store, "\(column) holds '\(value)', which this version of mlhost does not know")
}

/// A job to add to the durable queue. Inputs travel as JSON text, decoded in the VM with exact decimals.
public struct NewJob: Sendable {
  public var connector: String
  public var job: String
  public var input: String?
  public var trigger: JobTrigger
  /// Jobs that share a key (updates of one order) run one at a time, in the order they were queued.
  public var orderingKey: String?
  public var maxAttempts: Int
  public var runAt: Double
  /// For a replay: the audit row being replayed.
  public var recordID: Int64?

  public init(
    connector: String, job: String, input: String? = nil, trigger: JobTrigger, orderingKey: String? = nil,
    maxAttempts: Int = 5, runAt: Double, recordID: Int64? = nil
  ) {
    self.connector = connector
    self.job = job
    self.input = input
    self.trigger = trigger
    self.orderingKey = orderingKey
    self.maxAttempts = maxAttempts
    self.runAt = runAt
    self.recordID = recordID
  }
}

/// A job claimed by one host until `leaseExpires`.
public struct LeasedJob: Sendable, Equatable {
  public var id: Int64
  public var connector: String
  public var job: String
  public var input: String?
  public var trigger: JobTrigger
  /// Including this one.
  public var attempt: Int
  public var maxAttempts: Int
  public var recordID: Int64?
}

/// A webhook delivery, queued only if its id was not seen before for that connector and source.
public struct NewDelivery: Sendable {
  public var source: String
  public var deliveryID: String
  public var job: NewJob
  /// On the host's clock: retention counts from it.
  public var receivedAt: Double

  public init(source: String, deliveryID: String, job: NewJob, receivedAt: Double) {
    self.source = source
    self.deliveryID = deliveryID
    self.job = job
    self.receivedAt = receivedAt
  }
}

public enum DeliveryResult: Sendable, Equatable {
  case queued(jobID: Int64)
  case duplicate
}

/// One row of the record audit trail.
public struct RecordRow: Sendable, Equatable, Codable {
  public enum Outcome: String, Sendable, Codable, CaseIterable {
    case created, updated, unchanged, rejected, failed
  }

  public var id: Int64 = 0
  public var connector: String
  public var jobID: Int64?
  public var runID: String
  public var job: String
  public var kind: String
  public var key: String
  public var outcome: Outcome
  public var targetSystem: String?
  public var targetID: String?
  public var error: String?
  /// `file:line` the error names.
  public var errorAt: String?
  /// The record's input as JSON: what a replay runs on.
  public var input: String
  /// Anything else the handler reported (a GL allocation), as JSON.
  public var details: String?
  public var scriptVersion: String
  public var startedAt: Double
  public var durationMs: Double
  public var replayOf: Int64?
  /// The later audit row of the same record (a success, or a newer failure that replaced this one).
  public var resolvedBy: Int64?
  /// "script" when the error is a mistake in the script: not retried on its own, run again after a reload.
  public var errorKind: String?

  public init(
    connector: String, jobID: Int64?, runID: String, job: String, kind: String, key: String,
    outcome: Outcome, input: String, scriptVersion: String, startedAt: Double, durationMs: Double
  ) {
    self.connector = connector
    self.jobID = jobID
    self.runID = runID
    self.job = job
    self.kind = kind
    self.key = key
    self.outcome = outcome
    self.input = input
    self.scriptVersion = scriptVersion
    self.startedAt = startedAt
    self.durationMs = durationMs
  }
}

public struct RecordFilter: Sendable {
  public var connector: String?
  /// Only rejected or failed records that no later run has resolved.
  public var unresolvedFailures = false
  public var since: Double?
  public var limit = 100

  public init(connector: String? = nil, unresolvedFailures: Bool = false, since: Double? = nil, limit: Int = 100) {
    self.connector = connector
    self.unresolvedFailures = unresolvedFailures
    self.since = since
    self.limit = limit
  }
}

public struct StoreStats: Sendable, Equatable {
  public var jobsByState: [String: Int] = [:]
  public var recordsByOutcome: [String: Int] = [:]
  public var unresolvedFailures = 0
}

/// What the store knows of one job of a connector, for `mlhost status`: its schedule, its last finished run and its
/// last error. Times are Unix seconds.
public struct JobSummary: Codable, Sendable, Equatable {
  public var connector: String
  public var job: String
  /// The schedule's spec (`every 300s`, a cron line) and its next firing, for scheduled jobs.
  public var schedule: String?
  public var nextRun: Double?
  /// The last run that finished (succeeded, or dead-lettered), and how.
  public var lastRun: Double?
  public var lastState: String?
  /// The latest error of any run of this job (a retried attempt included), whether it is a script error, and when
  /// the run with it finished (nil while it waits for its retry).
  public var lastError: String?
  public var lastErrorKind: String?
  public var lastErrorJobID: Int64?
  public var queued = 0
  public var running = 0
  public var dead = 0

  public init(connector: String, job: String) {
    self.connector = connector
    self.job = job
  }
}

/// A dead-lettered job with its error. In JSON, `finishedAt` is ISO 8601 (UTC).
public struct DeadJob: Codable, Sendable, Equatable {
  public var id: Int64
  public var connector: String
  public var job: String
  public var trigger: String
  public var attempts: Int
  public var error: String?
  public var errorKind: String?
  /// Unix seconds.
  public var finishedAt: Double?

  public init(
    id: Int64, connector: String, job: String, trigger: String, attempts: Int, error: String?,
    errorKind: String?, finishedAt: Double?
  ) {
    (self.id, self.connector, self.job, self.trigger, self.attempts) = (id, connector, job, trigger, attempts)
    (self.error, self.errorKind, self.finishedAt) = (error, errorKind, finishedAt)
  }

  enum CodingKeys: String, CodingKey {
    case id, connector, job, trigger, attempts, error, errorKind, finishedAt
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    self.init(
      id: try c.decode(Int64.self, forKey: .id), connector: try c.decode(String.self, forKey: .connector),
      job: try c.decode(String.self, forKey: .job), trigger: try c.decode(String.self, forKey: .trigger),
      attempts: try c.decode(Int.self, forKey: .attempts), error: try c.decodeIfPresent(String.self, forKey: .error),
      errorKind: try c.decodeIfPresent(String.self, forKey: .errorKind),
      finishedAt: try c.decodeIfPresent(String.self, forKey: .finishedAt).flatMap { try? Timestamp.parse($0) })
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(id, forKey: .id)
    try c.encode(connector, forKey: .connector)
    try c.encode(job, forKey: .job)
    try c.encode(trigger, forKey: .trigger)
    try c.encode(attempts, forKey: .attempts)
    try c.encodeIfPresent(error, forKey: .error)
    try c.encodeIfPresent(errorKind, forKey: .errorKind)
    try c.encodeIfPresent(finishedAt.flatMap { try? Timestamp.format($0) }, forKey: .finishedAt)
  }
}

/// The durable state of every connector: job queue, dead letters, audit trail, cursors, key/values, mappings,
/// webhook deliveries seen and schedules. Every method is safe with several hosts sharing the store: claims
/// take leases, schedule firings are compare-and-set, and nothing relies on in-process state.
///
/// The calls a script's natives make take a completion, called on the store's own thread once the work is done
/// (durable, for a write): it wakes the waiting Lua VM from there, with no hop through the task pool. Their async
/// forms are in the extension below.
public protocol JobStore: Sendable {
  /// Queues a job; `then` gets its id once the write is durable.
  func enqueue(_ job: NewJob, then: @escaping Completion<Int64>)
  /// Records the delivery and queues its job in one commit, unless the delivery id was seen before.
  func enqueue(delivery: NewDelivery) async throws -> DeliveryResult
  /// Claims ready jobs, at most `freeSlots[connector]` per connector, skipping jobs whose ordering key has an
  /// earlier job queued or running. First returns expired leases to the queue.
  func claim(owner: String, now: Double, leaseSeconds: Double, freeSlots: [String: Int]) async throws -> [LeasedJob]
  func renew(owner: String, jobIDs: [Int64], until: Double) async throws
  /// Finishes a job this owner still holds: succeeded, retried at `retryAt`, or dead-lettered when nil.
  /// Returns false when the lease was lost to another host.
  @discardableResult
  func finish(
    jobID: Int64, owner: String, now: Double, succeeded: Bool, error: String?, errorKind: String?, retryAt: Double?
  ) async throws -> Bool
  /// After a reload of `connector`: its dead jobs and its records whose current failure is a script error are
  /// queued again (on the new version). Returns how many of each.
  func rerunScriptFailures(connector: String, now: Double, maxAttempts: Int) async throws -> (jobs: Int, records: Int)
  /// Returns this owner's running jobs to the queue (graceful shutdown of a host).
  func release(owner: String) async throws
  func job(id: Int64) async throws -> (state: JobState, attempts: Int, lastError: String?)?

  /// Writes an audit row (and the mapping a success established) and marks earlier failures of the same record
  /// settled by it (the latest row is the record's state); with `retryAt`, also queues a replay of this row then, in the same commit. Returns the
  /// row's id.
  func insert(
    record: RecordRow, mapping: (system: String, id: String)?, retryAt: Double?, maxAttempts: Int,
    then: @escaping Completion<Int64>)
  func record(id: Int64) async throws -> RecordRow?
  func records(_ filter: RecordFilter) async throws -> [RecordRow]

  func mapping(connector: String, sourceKey: String, system: String, then: @escaping Completion<String?>)
  func cursor(connector: String, name: String, then: @escaping Completion<String?>)
  func setCursor(connector: String, name: String, value: String, now: Double, then: @escaping Completion<Void>)
  func value(connector: String, key: String, then: @escaping Completion<String?>)
  func setValue(connector: String, key: String, value: String?, then: @escaping Completion<Void>)

  /// The persisted next firing of a schedule, and its spec text.
  func schedule(connector: String, job: String) async throws -> (spec: String, next: Double)?
  /// Creates or re-times a schedule (a changed spec restarts it at `next`).
  func upsertSchedule(connector: String, job: String, spec: String, next: Double) async throws
  /// Fires a schedule once across every host: moves it from `expected` to `next` and queues `job` in one commit,
  /// only if nobody moved it first.
  func fireSchedule(connector: String, job: String, expected: Double, next: Double, enqueue: NewJob) async throws
    -> Bool

  func stats() async throws -> StoreStats
  /// Every job the store knows of (scheduled, or with runs kept), by connector and job.
  func jobSummaries() async throws -> [JobSummary]
  /// Dead-lettered jobs, newest first.
  func deadJobs(connector: String?, limit: Int) async throws -> [DeadJob]

  /// Deletes at most `limit` succeeded jobs finished before `before`, and at most `limit` webhook delivery ids
  /// received before it; answers how many of each went. Queued, running and dead jobs and the audit trail stay.
  func prune(before: Double, limit: Int) async throws -> (jobs: Int, deliveries: Int)
}

extension JobStore {
  public func enqueue(_ job: NewJob) async throws -> Int64 { try await awaiting { enqueue(job, then: $0) } }

  public func insert(record: RecordRow, mapping: (system: String, id: String)?, retryAt: Double?, maxAttempts: Int)
    async throws -> Int64
  {
    try await awaiting {
      insert(record: record, mapping: mapping, retryAt: retryAt, maxAttempts: maxAttempts, then: $0)
    }
  }

  public func mapping(connector: String, sourceKey: String, system: String) async throws -> String? {
    try await awaiting { mapping(connector: connector, sourceKey: sourceKey, system: system, then: $0) }
  }

  public func cursor(connector: String, name: String) async throws -> String? {
    try await awaiting { cursor(connector: connector, name: name, then: $0) }
  }

  public func setCursor(connector: String, name: String, value: String, now: Double) async throws {
    try await awaiting { setCursor(connector: connector, name: name, value: value, now: now, then: $0) }
  }

  public func value(connector: String, key: String) async throws -> String? {
    try await awaiting { value(connector: connector, key: key, then: $0) }
  }

  public func setValue(connector: String, key: String, value: String?) async throws {
    try await awaiting { setValue(connector: connector, key: key, value: value, then: $0) }
  }
}

/// The built-in job that runs a stored record again (`mlhost replay`, and the automatic retry of a failed record).
public enum ReplayJob {
  public static let name = "mlhost.replay"
}

extension RecordRow {
  /// One JSON object for `mlhost audit --json`: `input` and `details` as the JSON they hold (not strings), times
  /// as ISO 8601 (UTC), the outcome's fields as they are stored.
  public func auditJSON() throws -> String {
    struct Plain: Encodable {
      var id: Int64, connector: String, jobID: Int64?, runID: String, job: String, kind: String, key: String
      var outcome: String, targetSystem: String?, targetID: String?, error: String?, errorAt: String?
      var errorKind: String?, scriptVersion: String, startedAt: String, durationMs: Double, replayOf: Int64?
      var resolvedBy: Int64?
    }
    let plain = Plain(
      id: id, connector: connector, jobID: jobID, runID: runID, job: job, kind: kind, key: key,
      outcome: outcome.rawValue, targetSystem: targetSystem, targetID: targetID, error: error, errorAt: errorAt,
      errorKind: errorKind, scriptVersion: scriptVersion, startedAt: (try? Timestamp.format(startedAt)) ?? "",
      durationMs: durationMs, replayOf: replayOf, resolvedBy: resolvedBy)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var text = String(decoding: try encoder.encode(plain), as: UTF8.self)
    // The stored JSON goes in as it is, so exact amounts keep every digit; anything unreadable stays a string.
    func raw(_ json: String?) throws -> String {
      guard let json else { return "null" }
      if Array(json.utf8).withUnsafeBytes({ JSONScan.scan($0).valid }) { return json }
      return String(decoding: try encoder.encode(json), as: UTF8.self)
    }
    text.removeLast()
    return text + ",\"details\":\(try raw(details)),\"input\":\(try raw(input))}"
  }
}
