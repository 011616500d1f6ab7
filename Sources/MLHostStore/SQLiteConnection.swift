import CSQLite
import Foundation
import MLHostCore

/// One SQLite connection with a statement cache. Not thread-safe: it lives on its store's thread.
final class SQLiteConnection {
  private var db: OpaquePointer?
  private var statements: [String: OpaquePointer] = [:]

  /// A SQLite failure as the host reports it: a damaged file (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) says so in its
  /// token, so the store can refuse the file; a busy or locked database is worth trying again.
  static func failure(code: Int32, _ description: String) -> HostError {
    let primary = code & 0xff
    if [SQLITE_CORRUPT, SQLITE_NOTADB].contains(primary) { return HostError(.store, description, token: "damaged") }
    return HostError(.store, description, retryable: [SQLITE_BUSY, SQLITE_LOCKED].contains(primary))
  }

  /// A value bound to or read from a statement.
  enum Value: Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
  }

  init(path: String) throws {
    let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
    guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK else {
      let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
      sqlite3_close(db)
      throw Self.failure(code: SQLITE_CANTOPEN, "cannot open \(path): \(message)")
    }
    // Other processes (a second host, the CLI) share the file: wait for their locks instead of failing.
    sqlite3_busy_timeout(db, 10_000)
    try execute("PRAGMA journal_mode = WAL")
    try execute("PRAGMA synchronous = FULL")
    try execute("PRAGMA foreign_keys = ON")
    // 32 MiB of page cache instead of 2: the queue's indexes (delivery ids, ordering keys) take writes at random
    // places, and with the default a busy webhook receiver read their pages back from disk on every commit.
    try execute("PRAGMA cache_size = -32768")
  }

  deinit {
    for s in statements.values { sqlite3_finalize(s) }
    sqlite3_close(db)
  }

  private func failure(_ code: Int32, _ sql: String) -> HostError {
    Self.failure(code: code, "\(String(cString: sqlite3_errmsg(db))) (in: \(sql.prefix(80)))")
  }

  /// Runs statements that return no rows (several, separated by ';').
  func execute(_ sql: String) throws {
    var error: UnsafeMutablePointer<CChar>?
    guard sqlite3_exec(db, sql, nil, nil, &error) == SQLITE_OK else {
      let message = error.map { String(cString: $0) } ?? "?"
      sqlite3_free(error)
      throw Self.failure(code: sqlite3_errcode(db), "\(message) (in: \(sql.prefix(80)))")
    }
  }

  private func prepared(_ sql: String) throws -> OpaquePointer {
    if let s = statements[sql] {
      sqlite3_reset(s)
      sqlite3_clear_bindings(s)
      return s
    }
    var s: OpaquePointer?
    let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
    guard rc == SQLITE_OK, let s else { throw failure(rc, sql) }
    statements[sql] = s
    return s
  }

  private func bind(_ s: OpaquePointer, _ values: [Value]) {
    for (i, v) in values.enumerated() {
      let n = Int32(i + 1)
      switch v {
      case .null: sqlite3_bind_null(s, n)
      case .integer(let x): sqlite3_bind_int64(s, n, x)
      case .real(let x): sqlite3_bind_double(s, n, x)
      case .text(let t):
        var t = t
        t.withUTF8 { buf in
          _ = mlh_sqlite3_bind_text(
            s, n, UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self), Int32(buf.count))
        }
      }
    }
  }

  /// One result row, read by column name (the statement's names or aliases): a column the statement lacks, or a
  /// value of another type than asked for, is a `Failure` naming the column, never a trap.
  struct Row {
    let columns: [String: Int]
    let values: [Value]

    /// The value of column `name`; `.null` is a value, a missing column an error.
    func value(_ name: String) throws -> Value {
      guard let i = columns[name] else {
        throw SQLiteConnection.failure(code: SQLITE_MISMATCH, "no column '\(name)' in the result")
      }
      return values[i]
    }

    func text(_ name: String) throws -> String {
      guard let s = try value(name).string else { throw mismatch(name, "text") }
      return s
    }

    func integer(_ name: String) throws -> Int64 {
      guard let i = try value(name).int else { throw mismatch(name, "an integer") }
      return i
    }

    func real(_ name: String) throws -> Double {
      guard let d = try value(name).double else { throw mismatch(name, "a number") }
      return d
    }

    private func mismatch(_ name: String, _ expected: String) -> HostError {
      SQLiteConnection.failure(
        code: SQLITE_MISMATCH,
        "column '\(name)' holds \((try? value(name)).map { "\($0)" } ?? "nothing"), not \(expected)")
    }
  }

  /// Runs one statement and returns its rows.
  @discardableResult
  func query(_ sql: String, _ values: [Value] = []) throws -> [Row] {
    let s = try prepared(sql)
    defer { sqlite3_reset(s) }
    bind(s, values)
    var columns: [String: Int] = [:]
    for c in 0..<sqlite3_column_count(s) {
      if let name = sqlite3_column_name(s, c) { columns[String(cString: name)] = Int(c) }
    }
    var rows: [Row] = []
    while true {
      let rc = sqlite3_step(s)
      if rc == SQLITE_DONE { return rows }
      guard rc == SQLITE_ROW else { throw failure(rc, sql) }
      var row: [Value] = []
      for c in 0..<sqlite3_column_count(s) {
        switch sqlite3_column_type(s, c) {
        case SQLITE_NULL: row.append(.null)
        case SQLITE_INTEGER: row.append(.integer(sqlite3_column_int64(s, c)))
        case SQLITE_FLOAT: row.append(.real(sqlite3_column_double(s, c)))
        default:
          let p = sqlite3_column_text(s, c)
          let n = Int(sqlite3_column_bytes(s, c))
          row.append(.text(p.map { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) } ?? ""))
        }
      }
      rows.append(Row(columns: columns, values: row))
    }
  }

  var changes: Int { Int(sqlite3_changes(db)) }
  var lastInsertID: Int64 { sqlite3_last_insert_rowid(db) }

  /// Runs `body` in one write transaction (BEGIN IMMEDIATE takes the write lock up front, so two processes never
  /// deadlock upgrading a read). Rolls back when `body` throws.
  func transaction<T>(_ body: () throws -> T) throws -> T {
    try execute("BEGIN IMMEDIATE")
    do {
      let result = try body()
      try execute("COMMIT")
      return result
    } catch {
      try? execute("ROLLBACK")
      throw error
    }
  }
}

extension SQLiteConnection.Value {
  var int: Int64? { if case .integer(let i) = self { return i } else { return nil } }
  var double: Double? {
    switch self {
    case .real(let d): return d
    case .integer(let i): return Double(i)
    default: return nil
    }
  }
  var string: String? { if case .text(let s) = self { return s } else { return nil } }

  init(_ s: String?) { self = s.map { .text($0) } ?? .null }
  init(_ i: Int64?) { self = i.map { .integer($0) } ?? .null }
  init(_ d: Double?) { self = d.map { .real($0) } ?? .null }
}
