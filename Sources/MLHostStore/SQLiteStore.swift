import CSQLite
import Foundation
import MLHostCore

/// The embedded default store: one SQLite file in WAL mode in the state directory, on a thread of its own so no
/// blocking call runs on the cooperative pool. Writes are group-committed: every write that arrives while a
/// commit is in progress joins the next transaction (one failing write does not undo the others), and none is
/// answered before that transaction is durable.
public final class SQLiteStore: JobStore, @unchecked Sendable {
  /// Host deaths during one job that dead-letter it.
  static let maxHostDeaths = 2

  public let path: String
  private let thread: SerialThread
  private let db: SQLiteConnection
  private let pendingLock = NSLock()
  private var pending: [PendingWrite] = []
  private var drainScheduled = false

  private struct OneWriteThrew: Error {}

  /// A write waiting for the next group commit: runs inside it, then answers once it is durable.
  private struct PendingWrite {
    /// Runs the write; false when it threw (its error is kept for its caller).
    let run: (SQLiteConnection) -> Bool
    let commit: () -> Void
    let fail: (any Error) -> Void
  }

  /// Opens (creating on first use, mode 0600) `state/mlhost.sqlite`, checks it (`PRAGMA quick_check`) and applies
  /// migrations. A damaged file is refused and left exactly as it was.
  public init(directory: URL) throws {
    try StateFolder.prepare(directory)
    path = directory.appendingPathComponent("mlhost.sqlite").path
    // Created private before SQLite opens it; SQLite gives the -wal and -shm files the database's mode.
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    if fd >= 0 { close(fd) }
    let verdict: String
    do {
      db = try SQLiteConnection(path: path)
      verdict = try db.query("PRAGMA quick_check(1)").first.map { try $0.text("quick_check") } ?? "no answer"
    } catch let e as HostError where e.token == "damaged" {
      throw Self.damaged(path, e.description)
    }
    guard verdict == "ok" else { throw Self.damaged(path, verdict) }
    try SQLiteMigrations.apply(db)
    thread = SerialThread(name: "sqlite")
  }

  deinit { thread.shutdown() }

  /// A store SQLite finds damaged: nothing is written to it, and the operator is told what to do.
  private static func damaged(_ path: String, _ detail: String) -> HostError {
    HostError(
      .store,
      "\(path) is damaged (SQLite quick_check: \(detail.prefix(200))); mlhost left it untouched and "
        + "will not start on it. Restore it from a backup, or move it (with its -wal file) aside to start with an empty "
        + "store; `sqlite3 \(path) .recover` saves what is still readable.", token: "damaged")
  }

  /// A consistent copy of this store, opened in `directory`: a dry run works on it and leaves this one alone.
  public func snapshot(into directory: URL) async throws -> SQLiteStore {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let target = directory.appendingPathComponent("mlhost.sqlite").path
    _ = try await run { db in try db.query("VACUUM INTO ?", [.text(target)]) }
    return try SQLiteStore(directory: directory)
  }

  /// Runs `body` on the store's thread and hands its result to `done` there.
  private func run<T: Sendable>(_ body: @escaping (SQLiteConnection) throws -> T, then done: @escaping Completion<T>) {
    let db = UncheckedBox(db)
    let body = UncheckedBox(body)
    thread.post { done(Result { try body.value(db.value) }) }
  }

  private func run<T: Sendable>(_ body: @escaping (SQLiteConnection) throws -> T) async throws -> T {
    try await awaiting { run(body, then: $0) }
  }

  /// Runs `body` in the next group commit and hands its result to `done` once that commit is durable.
  private func write<T: Sendable>(_ body: @escaping (SQLiteConnection) throws -> T, then done: @escaping Completion<T>)
  {
    var result: Result<T, any Error>?
    let write = PendingWrite(
      run: { db in
        result = Result { try body(db) }
        if case .failure = result! { return false }
        return true
      },
      commit: { done(result!) },
      fail: { done(.failure($0)) })
    let schedule: Bool = pendingLock.withLock {
      pending.append(write)
      defer { drainScheduled = true }
      return !drainScheduled
    }
    if schedule { thread.post { [self] in drainWrites() } }
  }

  @discardableResult
  private func write<T: Sendable>(_ body: @escaping (SQLiteConnection) throws -> T) async throws -> T {
    try await awaiting { write(body, then: $0) }
  }

  /// Commits every write queued so far in one transaction, then answers each.
  private func drainWrites() {
    let batch: [PendingWrite] = pendingLock.withLock {
      defer {
        pending = []
        drainScheduled = false
      }
      return pending
    }
    guard !batch.isEmpty else { return }
    do {
      do {
        // Writes almost never throw, so they run plainly first: a savepoint per write would copy every page the
        // write touches into the statement journal, on every delivery.
        try db.transaction {
          for w in batch where !w.run(db) { throw OneWriteThrew() }
        }
      } catch is OneWriteThrew {
        // That transaction is rolled back. Again, each write in a savepoint of its own: the one that throws undoes
        // only its own changes and keeps its error for its caller; the others commit.
        try db.transaction {
          for w in batch {
            try db.query("SAVEPOINT w")
            if !w.run(db) { try db.query("ROLLBACK TO w") }
            try db.query("RELEASE w")
          }
        }
      }
      for w in batch { w.commit() }
    } catch {
      for w in batch { w.fail(error) }
    }
  }

  public func enqueue(_ job: NewJob, then done: @escaping Completion<Int64>) {
    write({ db in try Self.insert(job, db) }, then: done)
  }

  private static func insert(_ j: NewJob, _ db: SQLiteConnection) throws -> Int64 {
    try db.query(
      """
      INSERT INTO jobs (connector, job, input, trigger, ordering_key, state, max_attempts, run_at, record_id, created_at)
      VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?)
      """,
      [
        .text(j.connector), .text(j.job), .init(j.input), .text(j.trigger.rawValue), .init(j.orderingKey),
        .integer(Int64(j.maxAttempts)), .real(j.runAt), .init(j.recordID), .real(Date().timeIntervalSince1970),
      ])
    return db.lastInsertID
  }

  public func enqueue(delivery d: NewDelivery) async throws -> DeliveryResult {
    try await write { db in
      let key: [SQLiteConnection.Value] = [.text(d.job.connector), .text(d.source), .text(d.deliveryID)]
      let seen = try db.query("SELECT 1 FROM deliveries WHERE connector = ? AND source = ? AND delivery_id = ?", key)
      guard seen.isEmpty else { return .duplicate }
      let id = try Self.insert(d.job, db)
      try db.query(
        "INSERT INTO deliveries (connector, source, delivery_id, received_at, job_id) VALUES (?, ?, ?, ?, ?)",
        key + [.real(d.receivedAt), .integer(id)])
      return .queued(jobID: id)
    }
  }

  public func claim(owner: String, now: Double, leaseSeconds: Double, freeSlots: [String: Int]) async throws
    -> [LeasedJob]
  {
    try await write { db in
      do {
        // Jobs whose host stopped mid-run come back, or die: once they have used every attempt, or when their
        // host died under them twice (a job that crashes its host must not crash it again on every restart).
        try db.query(
          """
          UPDATE jobs SET host_deaths = host_deaths + 1,
            state = CASE WHEN attempts >= max_attempts OR host_deaths + 1 >= \(Self.maxHostDeaths) THEN 'dead'
              ELSE 'queued' END,
            lease_owner = NULL, lease_expires = NULL,
            last_error = CASE WHEN host_deaths + 1 >= \(Self.maxHostDeaths) AND attempts < max_attempts
              THEN 'dead-lettered: the host stopped \(Self.maxHostDeaths) times while running this job (it may be what '
                || 'crashes the host); fix the cause, then replay or trigger it'
              ELSE 'the host running it stopped (lease expired)' END,
            finished_at = CASE WHEN attempts >= max_attempts OR host_deaths + 1 >= \(Self.maxHostDeaths) THEN ? END
          WHERE state = 'running' AND lease_expires < ?
          """, [.real(now), .real(now)])
        var claimed: [LeasedJob] = []
        for (connector, free) in freeSlots.sorted(by: { $0.key < $1.key }) where free > 0 {
          let rows = try db.query(
            """
            SELECT id FROM jobs j
            WHERE j.connector = ? AND j.state = 'queued' AND j.run_at <= ?
              AND (j.ordering_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM jobs k WHERE k.connector = j.connector AND k.ordering_key = j.ordering_key
                  AND k.id < j.id AND k.state IN ('queued', 'running')))
            ORDER BY j.run_at, j.id LIMIT ?
            """, [.text(connector), .real(now), .integer(Int64(free))])
          for row in rows {
            let r = try db.query(
              """
              UPDATE jobs SET state = 'running', lease_owner = ?, lease_expires = ?, attempts = attempts + 1
              WHERE id = ? AND state = 'queued'
              RETURNING id, connector, job, input, trigger, attempts, max_attempts, record_id
              """, [.text(owner), .real(now + leaseSeconds), try row.value("id")])
            guard let x = r.first else { continue }
            claimed.append(
              LeasedJob(
                id: try x.integer("id"), connector: try x.text("connector"), job: try x.text("job"),
                input: try x.value("input").string, trigger: try JobTrigger(stored: x.text("trigger")),
                attempt: Int(try x.integer("attempts")), maxAttempts: Int(try x.integer("max_attempts")),
                recordID: try x.value("record_id").int))
          }
        }
        return claimed
      }
    }
  }

  public func renew(owner: String, jobIDs: [Int64], until: Double) async throws {
    guard !jobIDs.isEmpty else { return }
    try await write { db in
      do {
        for id in jobIDs {
          try db.query(
            "UPDATE jobs SET lease_expires = ? WHERE id = ? AND lease_owner = ? AND state = 'running'",
            [.real(until), .integer(id), .text(owner)])
        }
      }
    }
  }

  public func finish(
    jobID: Int64, owner: String, now: Double, succeeded: Bool, error: String?, errorKind: String?, retryAt: Double?
  ) async throws -> Bool {
    try await write { db in
      let state: JobState = succeeded ? .succeeded : (retryAt == nil ? .dead : .queued)
      try db.query(
        """
        UPDATE jobs SET state = ?, lease_owner = NULL, lease_expires = NULL, last_error = ?, error_kind = ?,
          run_at = COALESCE(?, run_at), finished_at = ?
        WHERE id = ? AND lease_owner = ? AND state = 'running'
        """,
        [
          .text(state.rawValue), .init(error), .init(errorKind), .init(retryAt), state == .queued ? .null : .real(now),
          .integer(jobID), .text(owner),
        ])
      return db.changes == 1
    }
  }

  public func rerunScriptFailures(connector: String, now: Double, maxAttempts: Int) async throws
    -> (jobs: Int, records: Int)
  {
    try await write { db in
      do {
        try db.query(
          """
          UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, error_kind = NULL, finished_at = NULL
          WHERE connector = ? AND state = 'dead' AND error_kind = 'script'
          """, [.real(now), .text(connector)])
        let jobs = db.changes
        // Current failures only: a record's older rows were settled by its latest one.
        let records = try db.query(
          """
          SELECT id, kind, key FROM records
          WHERE connector = ? AND outcome = 'failed' AND error_kind = 'script' AND resolved_by IS NULL
          """, [.text(connector)])
        for r in records {
          _ = try Self.insert(
            NewJob(
              connector: connector, job: ReplayJob.name, trigger: .reload,
              orderingKey: "\(try r.text("kind")):\(try r.text("key"))", maxAttempts: maxAttempts, runAt: now,
              recordID: try r.integer("id")), db)
        }
        return (jobs, records.count)
      }
    }
  }

  public func release(owner: String) async throws {
    try await write { db in
      try db.query(
        """
        UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_expires = NULL, attempts = attempts - 1
        WHERE lease_owner = ? AND state = 'running'
        """, [.text(owner)])
    }
  }

  public func job(id: Int64) async throws -> (state: JobState, attempts: Int, lastError: String?)? {
    try await run { db in
      guard let r = try db.query("SELECT state, attempts, last_error FROM jobs WHERE id = ?", [.integer(id)]).first
      else {
        return nil
      }
      return (try JobState(stored: r.text("state")), Int(try r.integer("attempts")), try r.value("last_error").string)
    }
  }

  public func insert(
    record r: RecordRow, mapping: (system: String, id: String)?, retryAt: Double?, maxAttempts: Int,
    then done: @escaping Completion<Int64>
  ) {
    let mapping = mapping.map { [$0.system, $0.id] }
    write(
      { db in
        do {
          try db.query(
            """
            INSERT INTO records (connector, job_id, run_id, job, kind, key, outcome, target_system, target_id, error,
              error_at, input, details, script_version, started_at, duration_ms, replay_of, error_kind)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
              .text(r.connector), .init(r.jobID), .text(r.runID), .text(r.job), .text(r.kind), .text(r.key),
              .text(r.outcome.rawValue), .init(r.targetSystem), .init(r.targetID), .init(r.error), .init(r.errorAt),
              .text(r.input), .init(r.details), .text(r.scriptVersion), .real(r.startedAt), .real(r.durationMs),
              .init(r.replayOf), .init(r.errorKind),
            ])
          let id = db.lastInsertID
          if let m = mapping {
            try db.query(
              """
              INSERT INTO mappings (connector, source_key, target_system, target_id, updated_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (connector, source_key, target_system) DO UPDATE SET target_id = excluded.target_id,
                updated_at = excluded.updated_at
              """, [.text(r.connector), .text("\(r.kind):\(r.key)"), .text(m[0]), .text(m[1]), .real(r.startedAt)])
          }
          // A record has one current state, its latest row: a new row settles the earlier failures of the same
          // record (a success resolves them, a new failure replaces them), so each record needs attention once.
          try db.query(
            """
            UPDATE records SET resolved_by = ?
            WHERE connector = ? AND kind = ? AND key = ? AND outcome IN ('rejected', 'failed') AND resolved_by IS NULL
              AND id < ?
            """, [.integer(id), .text(r.connector), .text(r.kind), .text(r.key), .integer(id)])
          if let retryAt {
            _ = try Self.insert(
              NewJob(
                connector: r.connector, job: ReplayJob.name, trigger: .retry, orderingKey: "\(r.kind):\(r.key)",
                maxAttempts: maxAttempts, runAt: retryAt, recordID: id), db)
          }
          return id
        }
      }, then: done)
  }

  private static let recordColumns = """
    id, connector, job_id, run_id, job, kind, key, outcome, target_system, target_id, error, error_at, input, details,
    script_version, started_at, duration_ms, replay_of, resolved_by, error_kind
    """

  private static func recordRow(_ x: SQLiteConnection.Row) throws -> RecordRow {
    let outcome = try x.text("outcome")
    guard let known = RecordRow.Outcome(rawValue: outcome) else {
      throw unknownStoredValue(column: "records.outcome", value: outcome)
    }
    var r = RecordRow(
      connector: try x.text("connector"), jobID: try x.value("job_id").int, runID: try x.text("run_id"),
      job: try x.text("job"), kind: try x.text("kind"), key: try x.text("key"), outcome: known,
      input: try x.text("input"),
      scriptVersion: try x.text("script_version"), startedAt: try x.real("started_at"),
      durationMs: try x.real("duration_ms"))
    r.id = try x.integer("id")
    r.targetSystem = try x.value("target_system").string
    r.targetID = try x.value("target_id").string
    r.error = try x.value("error").string
    r.errorAt = try x.value("error_at").string
    r.details = try x.value("details").string
    r.replayOf = try x.value("replay_of").int
    r.resolvedBy = try x.value("resolved_by").int
    r.errorKind = try x.value("error_kind").string
    return r
  }

  public func record(id: Int64) async throws -> RecordRow? {
    try await run { db in
      try db.query("SELECT \(Self.recordColumns) FROM records WHERE id = ?", [.integer(id)]).first.map(Self.recordRow)
    }
  }

  /// The latest audit row of one record: its current state.
  public func latestRecord(connector: String, kind: String, key: String) async throws -> RecordRow? {
    try await run { db in
      try db.query(
        "SELECT \(Self.recordColumns) FROM records WHERE connector = ? AND kind = ? AND key = ? ORDER BY id DESC LIMIT 1",
        [.text(connector), .text(kind), .text(key)]
      ).first.map(Self.recordRow)
    }
  }

  public func records(_ f: RecordFilter) async throws -> [RecordRow] {
    try await run { db in
      var sql = "SELECT \(Self.recordColumns) FROM records WHERE 1 = 1"
      var args: [SQLiteConnection.Value] = []
      if let c = f.connector {
        sql += " AND connector = ?"
        args.append(.text(c))
      }
      if f.unresolvedFailures { sql += " AND outcome IN ('rejected', 'failed') AND resolved_by IS NULL" }
      if let s = f.since {
        sql += " AND started_at >= ?"
        args.append(.real(s))
      }
      sql += " ORDER BY id DESC LIMIT ?"
      args.append(.integer(Int64(f.limit)))
      return try db.query(sql, args).map(Self.recordRow)
    }
  }

  /// The text in `column` of the first row `sql` selects, or nil: the one-value reads natives make.
  private func text(
    _ column: String, of sql: String, _ args: [SQLiteConnection.Value], then done: @escaping Completion<String?>
  ) {
    run({ db in try db.query(sql, args).first?.value(column).string }, then: done)
  }

  public func mapping(
    connector: String, sourceKey: String, system: String, then done: @escaping Completion<String?>
  ) {
    text(
      "target_id", of: "SELECT target_id FROM mappings WHERE connector = ? AND source_key = ? AND target_system = ?",
      [.text(connector), .text(sourceKey), .text(system)], then: done)
  }

  public func cursor(connector: String, name: String, then done: @escaping Completion<String?>) {
    text(
      "value", of: "SELECT value FROM cursors WHERE connector = ? AND name = ?", [.text(connector), .text(name)],
      then: done)
  }

  public func setCursor(
    connector: String, name: String, value: String, now: Double, then done: @escaping Completion<Void>
  ) {
    write(
      { db in
        try db.query(
          """
          INSERT INTO cursors (connector, name, value, updated_at) VALUES (?, ?, ?, ?)
          ON CONFLICT (connector, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
          """, [.text(connector), .text(name), .text(value), .real(now)])
      }, then: done)
  }

  public func value(connector: String, key: String, then done: @escaping Completion<String?>) {
    text(
      "value", of: "SELECT value FROM kv WHERE connector = ? AND key = ?", [.text(connector), .text(key)], then: done)
  }

  public func setValue(connector: String, key: String, value: String?, then done: @escaping Completion<Void>) {
    write(
      { db in
        if let value {
          try db.query(
            """
            INSERT INTO kv (connector, key, value) VALUES (?, ?, ?)
            ON CONFLICT (connector, key) DO UPDATE SET value = excluded.value
            """, [.text(connector), .text(key), .text(value)])
        } else {
          try db.query("DELETE FROM kv WHERE connector = ? AND key = ?", [.text(connector), .text(key)])
        }
      }, then: done)
  }

  public func schedule(connector: String, job: String) async throws -> (spec: String, next: Double)? {
    try await run { db in
      guard
        let r = try db.query(
          "SELECT spec, next_run FROM schedules WHERE connector = ? AND job = ?", [.text(connector), .text(job)]
        ).first
      else { return nil }
      return (try r.text("spec"), try r.real("next_run"))
    }
  }

  public func upsertSchedule(connector: String, job: String, spec: String, next: Double) async throws {
    try await write { db in
      try db.query(
        """
        INSERT INTO schedules (connector, job, spec, next_run) VALUES (?, ?, ?, ?)
        ON CONFLICT (connector, job) DO UPDATE SET spec = excluded.spec, next_run = excluded.next_run
        """, [.text(connector), .text(job), .text(spec), .real(next)])
    }
  }

  public func fireSchedule(connector: String, job: String, expected: Double, next: Double, enqueue: NewJob) async throws
    -> Bool
  {
    try await write { db in
      do {
        try db.query(
          "UPDATE schedules SET next_run = ?, last_run = ? WHERE connector = ? AND job = ? AND next_run = ?",
          [.real(next), .real(enqueue.runAt), .text(connector), .text(job), .real(expected)])
        guard db.changes == 1 else { return false }
        // At most one pending firing per schedule: while one waits (or waits for its retry), the next is folded
        // into it instead of piling up behind it.
        let waiting = try db.query(
          "SELECT 1 FROM jobs WHERE state = 'queued' AND connector = ? AND job = ? AND trigger = 'schedule' LIMIT 1",
          [.text(connector), .text(job)])
        guard waiting.isEmpty else { return false }
        _ = try Self.insert(enqueue, db)
        return true
      }
    }
  }

  public func prune(before: Double, limit: Int) async throws -> (jobs: Int, deliveries: Int) {
    try await write { db in
      try db.query(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'succeeded' AND finished_at < ? LIMIT ?)",
        [.real(before), .integer(Int64(limit))])
      let jobs = db.changes
      try db.query(
        """
        DELETE FROM deliveries WHERE (connector, source, delivery_id) IN (
          SELECT connector, source, delivery_id FROM deliveries WHERE received_at < ? LIMIT ?)
        """, [.real(before), .integer(Int64(limit))])
      return (jobs, db.changes)
    }
  }

  public func jobSummaries() async throws -> [JobSummary] {
    try await run { db in
      var out: [String: JobSummary] = [:]
      func summary(_ c: String, _ j: String) -> JobSummary { out["\(c)\u{0}\(j)"] ?? JobSummary(connector: c, job: j) }
      for r in try db.query("SELECT connector, job, spec, next_run FROM schedules") {
        var s = summary(try r.text("connector"), try r.text("job"))
        (s.schedule, s.nextRun) = (try r.value("spec").string, try r.value("next_run").double)
        out["\(s.connector)\u{0}\(s.job)"] = s
      }
      for r in try db.query("SELECT connector, job, state, COUNT(*) AS n FROM jobs GROUP BY connector, job, state") {
        var s = summary(try r.text("connector"), try r.text("job"))
        let n = Int(try r.integer("n"))
        switch try JobState(stored: r.text("state")) {
        case .queued: s.queued = n
        case .running: s.running = n
        case .dead: s.dead = n
        case .succeeded: break
        }
        out["\(s.connector)\u{0}\(s.job)"] = s
      }
      // The last finished run of each job, and the latest error of each (a retried attempt keeps it in last_error).
      for r in try db.query(
        """
        SELECT connector, job, state, finished_at FROM jobs j
        WHERE id = (SELECT MAX(id) FROM jobs WHERE connector = j.connector AND job = j.job AND finished_at IS NOT NULL)
        """)
      {
        var s = summary(try r.text("connector"), try r.text("job"))
        (s.lastState, s.lastRun) = (try r.value("state").string, try r.value("finished_at").double)
        out["\(s.connector)\u{0}\(s.job)"] = s
      }
      for r in try db.query(
        """
        SELECT connector, job, last_error, error_kind, id FROM jobs j
        WHERE id = (SELECT MAX(id) FROM jobs WHERE connector = j.connector AND job = j.job AND last_error IS NOT NULL)
        """)
      {
        var s = summary(try r.text("connector"), try r.text("job"))
        (s.lastError, s.lastErrorKind, s.lastErrorJobID) =
          (try r.value("last_error").string, try r.value("error_kind").string, try r.value("id").int)
        out["\(s.connector)\u{0}\(s.job)"] = s
      }
      return out.values.sorted { ($0.connector, $0.job) < ($1.connector, $1.job) }
    }
  }

  public func deadJobs(connector: String?, limit: Int) async throws -> [DeadJob] {
    try await run { db in
      try db.query(
        """
        SELECT id, connector, job, trigger, attempts, last_error, error_kind, finished_at FROM jobs
        WHERE state = 'dead' AND (? IS NULL OR connector = ?) ORDER BY id DESC LIMIT ?
        """, [.init(connector), .init(connector), .integer(Int64(limit))]
      ).map {
        DeadJob(
          id: try $0.integer("id"), connector: try $0.text("connector"), job: try $0.text("job"),
          trigger: try $0.text("trigger"), attempts: Int(try $0.integer("attempts")),
          error: try $0.value("last_error").string, errorKind: try $0.value("error_kind").string,
          finishedAt: try $0.value("finished_at").double)
      }
    }
  }

  public func stats() async throws -> StoreStats {
    try await run { db in
      var s = StoreStats()
      for r in try db.query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
        s.jobsByState[try r.text("state")] = Int(try r.integer("n"))
      }
      // Records by their current state (the latest row of each), not audit rows.
      for r in try db.query(
        """
        SELECT outcome, COUNT(*) AS n FROM records r
        WHERE id = (SELECT MAX(id) FROM records WHERE connector = r.connector AND kind = r.kind AND key = r.key)
        GROUP BY outcome
        """)
      {
        s.recordsByOutcome[try r.text("outcome")] = Int(try r.integer("n"))
      }
      s.unresolvedFailures = Int(
        try db.query(
          "SELECT COUNT(*) AS n FROM records WHERE outcome IN ('rejected', 'failed') AND resolved_by IS NULL"
        ).first?.integer("n") ?? 0)
      return s
    }
  }
}
