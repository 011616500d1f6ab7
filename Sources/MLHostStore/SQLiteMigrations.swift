/// The store's schema, one migration per version (`PRAGMA user_version` counts the ones applied).
enum SQLiteMigrations {
  static let all: [String] = [
    """
    CREATE TABLE jobs (
      id INTEGER PRIMARY KEY,
      connector TEXT NOT NULL,
      job TEXT NOT NULL,
      input TEXT,
      trigger TEXT NOT NULL,
      ordering_key TEXT,
      state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'dead')),
      attempts INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL,
      run_at REAL NOT NULL,
      lease_owner TEXT,
      lease_expires REAL,
      last_error TEXT,
      record_id INTEGER,
      created_at REAL NOT NULL,
      finished_at REAL
    );
    CREATE INDEX jobs_ready ON jobs (state, connector, run_at);
    CREATE INDEX jobs_ordering ON jobs (connector, ordering_key, id) WHERE ordering_key IS NOT NULL;
    CREATE TABLE records (
      id INTEGER PRIMARY KEY,
      connector TEXT NOT NULL,
      job_id INTEGER,
      run_id TEXT NOT NULL,
      job TEXT NOT NULL,
      kind TEXT NOT NULL,
      key TEXT NOT NULL,
      outcome TEXT NOT NULL CHECK (outcome IN ('created', 'updated', 'unchanged', 'rejected', 'failed')),
      target_system TEXT,
      target_id TEXT,
      error TEXT,
      error_at TEXT,
      input TEXT NOT NULL,
      details TEXT,
      script_version TEXT NOT NULL,
      started_at REAL NOT NULL,
      duration_ms REAL NOT NULL,
      replay_of INTEGER,
      resolved_by INTEGER
    );
    CREATE INDEX records_key ON records (connector, kind, key);
    CREATE INDEX records_time ON records (started_at);
    CREATE TABLE cursors (
      connector TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, updated_at REAL NOT NULL,
      PRIMARY KEY (connector, name)
    );
    CREATE TABLE kv (
      connector TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (connector, key)
    );
    CREATE TABLE mappings (
      connector TEXT NOT NULL, source_key TEXT NOT NULL, target_system TEXT NOT NULL, target_id TEXT NOT NULL,
      updated_at REAL NOT NULL,
      PRIMARY KEY (connector, source_key, target_system)
    );
    CREATE TABLE deliveries (
      connector TEXT NOT NULL, source TEXT NOT NULL, delivery_id TEXT NOT NULL, received_at REAL NOT NULL,
      job_id INTEGER,
      PRIMARY KEY (connector, source, delivery_id)
    );
    CREATE TABLE schedules (
      connector TEXT NOT NULL, job TEXT NOT NULL, spec TEXT NOT NULL, next_run REAL NOT NULL, last_run REAL,
      PRIMARY KEY (connector, job)
    );
    """,
    // The claim's per-key order check looks only at queued and running jobs: index those alone, so finished jobs
    // of a busy key (thousands of updates to one order) cost nothing.
    """
    DROP INDEX jobs_ordering;
    CREATE INDEX jobs_active_ordering ON jobs (connector, ordering_key, id)
      WHERE ordering_key IS NOT NULL AND state IN ('queued', 'running');
    """,
    // Deliveries are looked up by their key: keep the rows in the key's B-tree (WITHOUT ROWID) instead of a rowid
    // table plus an index, one tree fewer to write per webhook delivery. Pruning finds old ones by time.
    """
    CREATE TABLE deliveries_by_key (
      connector TEXT NOT NULL, source TEXT NOT NULL, delivery_id TEXT NOT NULL, received_at REAL NOT NULL,
      job_id INTEGER,
      PRIMARY KEY (connector, source, delivery_id)
    ) WITHOUT ROWID;
    INSERT INTO deliveries_by_key SELECT connector, source, delivery_id, received_at, job_id FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_by_key RENAME TO deliveries;
    CREATE INDEX deliveries_received ON deliveries (received_at);
    """,
    // How often a job's host died while running it (a job that keeps killing its host is dead-lettered), and
    // which failures are script errors (not retried on their own; run again after a reload).
    """
    ALTER TABLE jobs ADD COLUMN host_deaths INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN error_kind TEXT;
    ALTER TABLE records ADD COLUMN error_kind TEXT;
    """,
  ]

  static func apply(_ db: SQLiteConnection) throws {
    let current = Int(try db.query("PRAGMA user_version").first?.integer("user_version") ?? 0)
    guard current < all.count else { return }
    try db.transaction {
      for (i, sql) in all.enumerated() where i >= current { try db.execute(sql) }
      try db.execute("PRAGMA user_version = \(all.count)")
    }
  }
}
