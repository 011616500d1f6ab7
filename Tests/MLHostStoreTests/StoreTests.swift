import CSQLite
import Foundation
import MLHostRuntime
import MLHostStore
import Testing

/// The SQLite store itself: group commit and migrations, against a real file. Faults are injected the way another
/// process could cause them, through a second connection to the same file.
@Suite struct StoreTests {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-store-\(UUID().uuidString)")

  /// Runs `sql` on the store's file through a connection of its own.
  func execute(_ sql: String) throws {
    var db: OpaquePointer?
    defer { sqlite3_close(db) }
    let path = directory.appendingPathComponent("mlhost.sqlite").path
    guard sqlite3_open(path, &db) == SQLITE_OK else { throw Failure(message: "cannot open \(path)") }
    sqlite3_busy_timeout(db, 10_000)
    var error: UnsafeMutablePointer<CChar>?
    guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
      defer { sqlite3_free(error) }
      throw Failure(message: error.map { String(cString: $0) } ?? "?")
    }
  }

  struct Failure: Error { let message: String }

  func delivery(_ id: String) -> NewDelivery {
    NewDelivery(
      source: "shopify", deliveryID: id,
      job: NewJob(connector: "shop", job: "main", input: #"{"n":1}"#, trigger: .webhook, runAt: 0), receivedAt: 0)
  }

  @Test func aWriteThatFailsInAGroupCommitUndoesOnlyItself() async throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try SQLiteStore(directory: directory)
    // The delivery row is the write's last statement: its job row is in by then and must go too.
    try execute(
      """
      CREATE TRIGGER poison BEFORE INSERT ON deliveries WHEN NEW.delivery_id LIKE 'poison-%'
      BEGIN SELECT RAISE(ABORT, 'poisoned delivery'); END
      """)
    // Sent together, the deliveries wait for one another's commits and share transactions.
    let poisoned: Set<Int> = [7, 23, 38]
    let results = await withTaskGroup(of: (Int, Result<DeliveryResult, any Error>).self) { group in
      for n in 0..<40 {
        group.addTask {
          let d = delivery(poisoned.contains(n) ? "poison-\(n)" : "d-\(n)")
          do { return (n, .success(try await store.enqueue(delivery: d))) } catch { return (n, .failure(error)) }
        }
      }
      return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
    }
    for (n, result) in results {
      if poisoned.contains(n) {
        #expect(throws: (any Error).self) { try result.get() }
        #expect("\(result)".contains("poisoned delivery"))
      } else {
        guard case .success(.queued(let id)) = result else {
          Issue.record("delivery \(n): \(result)")
          continue
        }
        #expect(try await store.job(id: id)?.state == .queued)
        // Its delivery row committed with its job: sent again, it is a duplicate.
        #expect(try await store.enqueue(delivery: delivery("d-\(n)")) == .duplicate)
      }
    }
    #expect(try await store.stats().jobsByState == ["queued": 37])
    // A refused delivery left nothing behind, not even its id: once the cause is gone it is taken.
    try execute("DROP TRIGGER poison")
    guard case .queued = try await store.enqueue(delivery: delivery("poison-7")) else {
      Issue.record("a refused delivery's id was kept")
      return
    }
  }

  @Test func deliveriesSurviveTheMigrationToTheirKeyedTable() async throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    var store: SQLiteStore? = try SQLiteStore(directory: directory)
    guard case .queued(let id) = try await store!.enqueue(delivery: delivery("before-upgrade")) else {
      Issue.record("not queued")
      return
    }
    store = nil
    // The tables as version 2 of the schema had them: deliveries a rowid table with the key as a unique index,
    // jobs without the later columns.
    try execute(
      """
      ALTER TABLE jobs DROP COLUMN host_deaths;
      ALTER TABLE jobs DROP COLUMN error_kind;
      ALTER TABLE records DROP COLUMN error_kind;
      DROP TABLE deliveries;
      CREATE TABLE deliveries (
        connector TEXT NOT NULL, source TEXT NOT NULL, delivery_id TEXT NOT NULL, received_at REAL NOT NULL,
        job_id INTEGER,
        PRIMARY KEY (connector, source, delivery_id)
      );
      INSERT INTO deliveries VALUES ('shop', 'shopify', 'before-upgrade', 0, \(id));
      PRAGMA user_version = 2;
      """)
    store = try SQLiteStore(directory: directory)
    #expect(try await store!.enqueue(delivery: delivery("before-upgrade")) == .duplicate)
    guard case .queued = try await store!.enqueue(delivery: delivery("after-upgrade")) else {
      Issue.record("a new delivery was not queued after the upgrade")
      return
    }
    #expect(try await store!.enqueue(delivery: delivery("after-upgrade")) == .duplicate)
  }

  /// Rows are read by column name and checked: a value this host does not know (a newer host wrote it, a hand
  /// edit) is an error naming the column and the value, never a crash of the host or a silent guess.
  @Test func storedValuesThisHostDoesNotKnowAreErrorsNamingTheColumn() async throws {
    defer { try? FileManager.default.removeItem(at: directory) }
    let store = try SQLiteStore(directory: directory)
    let id = try await store.enqueue(NewJob(connector: "c", job: "main", trigger: .manual, runAt: 0))
    var row = RecordRow(
      connector: "c", jobID: id, runID: "r", job: "main", kind: "order", key: "1", outcome: .created,
      input: "{}", scriptVersion: "v", startedAt: 0, durationMs: 1)
    row.details = "{}"
    let record = try await store.insert(record: row, mapping: nil, retryAt: nil, maxAttempts: 1)
    #expect(try await store.job(id: id)?.state == .queued)
    #expect(try await store.record(id: record)?.outcome == .created)

    // States and outcomes have CHECK constraints of their own: the file refuses what the host would not know.
    #expect(throws: (any Error).self) { try execute("UPDATE jobs SET state = 'paused' WHERE id = \(id)") }
    #expect(throws: (any Error).self) { try execute("UPDATE records SET outcome = 'archived' WHERE id = \(record)") }
    try execute("UPDATE records SET started_at = 'yesterday' WHERE id = \(record)")
    let recordError = await #expect(throws: (any Error).self) { try await store.record(id: record) }
    #expect("\(recordError!)".contains("column 'started_at' holds text(\"yesterday\"), not a number"))
    try execute("UPDATE jobs SET trigger = 'telepathy' WHERE id = \(id)")
    let claimError = await #expect(throws: (any Error).self) {
      try await store.claim(owner: "h", now: 1, leaseSeconds: 30, freeSlots: ["c": 1])
    }
    #expect("\(claimError!)".contains("jobs.trigger holds 'telepathy'"))
  }
}
