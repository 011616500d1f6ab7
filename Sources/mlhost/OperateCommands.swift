import ArgumentParser
import Foundation
import MLHostCore
import MLHostRuntime
import MLHostServer
import MLHostStore
import MLHostSystems

struct StatusCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract:
      "Shows connectors, each job's last and next run and last error, failed reloads, dead-lettered jobs and records needing attention."
  )

  @OptionGroup var state: StateOptions
  @Flag(help: "Print JSON (times in ISO 8601).") var json = false

  func run() async throws {
    let status: HostStatus
    if let (code, body) = try? await state.admin("GET", "/status"), code == 200 {
      status = try JSONDecoder().decode(HostStatus.self, from: Data(body.utf8))
    } else {
      // No running host: the store still tells the queue, the schedules and the audit trail.
      status = try await HostStatus.collect(store: state.store())
    }
    if json {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
      return print(String(decoding: try encoder.encode(status), as: UTF8.self))
    }
    print(text(status))
  }

  func text(_ status: HostStatus) -> String {
    var out: [String] = []
    if !status.hostRunning { out.append("no host running on \(state.state); from the store:") }
    for c in status.connectors {
      out.append("connector \(c.name)  version \(c.version)  \(c.script)")
      if let f = c.reloadFailure {
        out.append("  RELOAD FAILED \(f.at) (version \(f.running) keeps running): \(f.error)")
      }
      out.append("  jobs: " + c.jobs.joined(separator: ", "))
      for w in c.webhooks { out.append("  webhook POST \(w.path) (\(w.system) \(w.topic))") }
    }
    for j in status.schedules {
      var line = "  job \(j.connector).\(j.job == ReplayJob.name ? "replays" : j.job)"
      if let s = j.schedule { line += " (\(s))" }
      if let last = j.lastRun { line += "  last \(last) \(j.lastState ?? "")" }
      if let next = j.nextRun { line += "  next \(next)" }
      let waiting = [("queued", j.queued), ("running", j.running), ("dead", j.dead)].filter { $0.1 > 0 }
      if !waiting.isEmpty { line += "  " + waiting.map { "\($0.1) \($0.0)" }.joined(separator: ", ") }
      out.append(line)
      if let e = j.lastError {
        out.append(
          "    last error\(j.lastErrorKind == "script" ? " (script error, runs again after a reload)" : ""): \(e)")
      }
    }
    let jobs = status.jobs.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    let records = status.records.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    out.append("jobs: \(jobs.isEmpty ? "none" : jobs)")
    out.append("records: \(records.isEmpty ? "none" : records)")
    out.append(
      "needing attention: \(status.unresolvedFailures)"
        + (status.unresolvedFailures > 0
          ? " (\(Invocation.mlhost) audit --failed\(state.hint); \(Invocation.mlhost) replay --failed\(state.hint))"
          : ""))
    if !status.deadJobs.isEmpty {
      out.append(
        "dead-lettered jobs (newest first\(status.deadJobs.count == HostStatus.deadListed ? ", the last \(HostStatus.deadListed)" : "")):"
      )
      for d in status.deadJobs {
        out.append(
          "  #\(d.id) \(d.finishedAt.flatMap(HostStatus.iso) ?? "") \(d.connector).\(d.job) [\(d.trigger)] after \(d.attempts) attempt(s)"
            + (d.errorKind == "script" ? " (script error)" : "") + ": \(d.error ?? "")")
      }
    }
    return out.joined(separator: "\n")
  }
}

struct TriggerCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "trigger",
    abstract: "Runs a job now, on the running host, or in this process when none runs; prints how it ended.")

  @Argument var connector: String
  @Argument var job: String
  @Option(help: "The job's input as JSON.") var input: String?
  @OptionGroup var state: StateOptions

  func validate() throws {
    if let input, !JSONScan.isJSON(input) { throw ValidationError("--input is not JSON: \(input.prefix(80))") }
  }

  func run() async throws {
    let store = try state.store()
    let started = Date().timeIntervalSince1970
    let id: Int64
    if let running = try await state.runningAdmin() {
      let (code, body) = try await running("POST", "/trigger/\(connector)/\(job)", input)
      guard code == 200, let queued = (Self.decode(body)["job_id"] as? NSNumber)?.int64Value else {
        throw HostError(.input, body.trimmingCharacters(in: .whitespacesAndNewlines))
      }
      id = queued
      print("queued as job \(id) on the running host")
      guard try await QueuedWork.waitForEnd(of: [id], in: store) else {
        return print("job \(id) is still running; `mlhost status` and `mlhost audit` show how it ends")
      }
    } else {
      let offline = try await OfflineHost.start(state, connectors: [connector], logger: .operatorVerb)
      do {
        id = try await offline.host.enqueue(connector: connector, job: job, input: input, trigger: .manual)
      } catch {
        await offline.stop()
        throw HostError(.setup, "\(error)")
      }
      _ = await offline.host.outcome(of: id)
      await offline.stop()
    }
    let end = try await store.job(id: id)
    print("\(connector).\(job): " + (end?.state == .succeeded ? "ok" : "failed: \(end?.lastError ?? "?")"))
    let written = try await store.records(RecordFilter(connector: connector, since: started, limit: 10_000))
      .filter { $0.jobID == id }.reversed()
    if !written.isEmpty { print("records:") }
    for line in QueuedWork.describe(records: Array(written), stateHint: state.hint) { print(line) }
  }

  static func decode(_ body: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
  }
}

struct ReplayCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "replay",
    abstract: "Runs stored records again on the current script version: one by id, or every unresolved failure.")

  @Argument(help: "The audit record id (from `mlhost audit`).") var record: Int64?
  @Flag(help: "Replay every rejected or failed record no later run resolved.") var failed = false
  @Option(help: "With --failed: only this connector's.") var connector: String?
  @OptionGroup var state: StateOptions

  func validate() throws {
    guard (record != nil) != failed else { throw ValidationError("name a record id, or --failed") }
  }

  func run() async throws {
    let store = try state.store()
    let rows: [RecordRow]
    if let record {
      guard let row = try await store.record(id: record) else {
        throw HostError(.notFound, "no record \(record) in \(state.state)")
      }
      rows = [row]
    } else {
      rows = try await store.records(RecordFilter(connector: connector, unresolvedFailures: true, limit: 10_000))
    }
    if rows.isEmpty { return print("nothing needs a replay") }
    if let running = try await state.runningAdmin() {
      var path = record.map { "/replay/\($0)" } ?? "/replay?failed=1"
      if failed, let c = connector { path += "&connector=\(c)" }
      let (code, body) = try await running("POST", path, nil)
      guard code == 200 else { throw HostError(.input, body.trimmingCharacters(in: .whitespacesAndNewlines)) }
      let ids = (TriggerCommand.decode(body)["job_ids"] as? [NSNumber] ?? []).map(\.int64Value)
      print("replaying \(ids.count) record(s) on the running host")
      guard try await QueuedWork.waitForEnd(of: ids, in: store) else {
        return print("still running; `mlhost audit` shows how they end")
      }
    } else {
      let offline = try await OfflineHost.start(state, connectors: Set(rows.map(\.connector)), logger: .operatorVerb)
      print("no host runs on \(state.state): replaying \(rows.count) record(s) in this process")
      var ids: [Int64] = []
      for row in rows { if let id = try? await offline.host.replay(recordID: row.id) { ids.append(id) } }
      for id in ids { _ = await offline.host.outcome(of: id) }
      await offline.stop()
    }
    var latest: [RecordRow] = []
    for row in rows {
      if let now = try await store.latestRecord(connector: row.connector, kind: row.kind, key: row.key) {
        latest.append(now)
      }
    }
    for line in QueuedWork.describe(records: latest, stateHint: state.hint) { print(line) }
  }
}

struct AuditCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audit", abstract: "Lists the record audit trail, newest first.")

  @Flag(help: "Only rejected or failed records that no later run resolved.") var failed = false
  @Option(help: "Only this connector's records.") var connector: String?
  @Option(help: "Only records since this time (ISO 8601, or a duration ago such as 2h).") var since: String?
  @Option(help: "At most this many rows.") var limit = 100
  @Flag(help: "Print JSON lines (input and details as JSON, times in ISO 8601).") var json = false
  @OptionGroup var state: StateOptions

  func run() async throws {
    var sinceTime: Double?
    if let s = since {
      if let ago = DurationText.seconds(s) {
        sinceTime = Date().timeIntervalSince1970 - ago
      } else {
        do { sinceTime = try Timestamp.parse(s) } catch { throw ValidationError("--since: \(error)") }
      }
    }
    let rows = try await state.store().records(
      RecordFilter(connector: connector, unresolvedFailures: failed, since: sinceTime, limit: limit))
    if json {
      for r in rows { print(try r.auditJSON()) }
      return
    }
    if rows.isEmpty { return print(failed ? "no records need attention" : "no records") }
    for r in rows {
      let when = (try? Timestamp.format(r.startedAt)) ?? ""
      var line = "#\(r.id) \(when) \(r.connector) \(r.kind) \(r.key) \(r.outcome.rawValue.uppercased())"
      if let t = r.targetID { line += " → \(r.targetSystem ?? "") \(t)" }
      if let e = r.error { line += " — \(e)" + (r.errorAt.map { " (\($0))" } ?? "") }
      if r.resolvedBy != nil { line += " [resolved by #\(r.resolvedBy!)]" }
      if r.replayOf != nil { line += " [replay of #\(r.replayOf!)]" }
      print(line)
      if let d = r.details { print("    details: \(d)") }
      if (r.outcome == .rejected || r.outcome == .failed) && r.resolvedBy == nil {
        print("    replay: \(Invocation.replay(r.id, stateHint: state.hint))")
      }
    }
  }
}

struct CredsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "creds", abstract: "Manages the encrypted credential vault in the state folder.",
    subcommands: [Set.self, List.self, Remove.self, Rotate.self])

  struct Set: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set", abstract: "Stores a credential: fields from --field key=value and/or JSON on stdin.",
      discussion: "Types and their fields: "
        + CredentialType.allCases.sorted { $0.rawValue < $1.rawValue }
        .map { "\($0) (\($0.requiredFields.joined(separator: ", ")))" }.joined(separator: "; ")
        + ". webhook_secret also takes `previous` during a rotation.")

    @Argument var name: String
    @Option(help: "The credential type.") var type: String
    @Option(name: .customLong("field"), help: "A field as key=value (repeatable).") var fields: [String] = []
    @Option(
      name: .customLong("origin"),
      help:
        "An origin (scheme://host:port) the host may send this credential to (repeatable); no other. Given without fields, rebinds a stored credential's origins and keeps its fields."
    )
    var origins: [String] = []
    @Flag(
      help:
        "Read a JSON object of fields from standard input (keeps secrets out of shell history); `origins` may be a list in it."
    )
    var fromStdin = false
    @OptionGroup var state: StateOptions

    func run() async throws {
      var values: [String: String] = [:]
      var origins = self.origins
      for f in fields {
        guard let eq = f.firstIndex(of: "=") else { throw ValidationError("--field takes key=value") }
        values[String(f[..<eq])] = String(f[f.index(after: eq)...])
      }
      if fromStdin {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        guard var object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
          throw ValidationError("standard input is not a JSON object of fields")
        }
        if let listed = object.removeValue(forKey: "origins") {
          guard let list = listed as? [String] else {
            throw ValidationError("`origins` on standard input must be a list of strings")
          }
          origins += list
        }
        for (k, v) in object { values[k] = "\(v)" }
      }
      let type: CredentialType
      do { type = try CredentialType.named(self.type) } catch let e as HostError {
        throw ValidationError(e.description)
      }
      var credential = Credential(name: name, type: type, fields: values, origins: origins)
      do {
        let vault = try state.vault()
        // Only origins given: bind the stored credential anew, keeping its secret (the fix the host suggests).
        if values.isEmpty, !origins.isEmpty, let stored = try vault.get(name), stored.type == type {
          credential.fields = stored.fields
          credential.expiresAt = stored.expiresAt
        }
        try vault.set(credential)
      } catch let e as HostError {
        throw HostError(.input, e.description)
      }
      print("stored \(name) (\(type))" + (origins.isEmpty ? "" : " for " + origins.joined(separator: ", ")))
      if origins.isEmpty, type.signsRequests {
        print(
          "note: \(name) is bound to no origin, so the host attaches it to no request until you add --origin https://host:port"
        )
      }
      for field in credential.shortSecrets {
        FileHandle.standardError.write(
          Data(
            ("warning: \(name): \(field) is shorter than \(Credential.safeSecretLength) characters: "
              + "easy to guess, and redacted from logs only where it stands as a word of its own\n").utf8))
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "list", abstract: "Names, types, expiry and origins; no secrets.")
    @OptionGroup var state: StateOptions

    func run() async throws {
      let items = try state.vault().list()
      if items.isEmpty { return print("no credentials") }
      for c in items {
        print(
          "\(c.name)  \(c.type)" + (c.expiresAt.flatMap { try? Timestamp.format($0) }.map { "  expires \($0)" } ?? "")
            + (c.origins.isEmpty
              ? (c.type.signsRequests ? "  origins: none" : "")
              : "  origins: " + c.origins.joined(separator: " ")))
      }
    }
  }

  struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Deletes a credential.")
    @Argument var name: String
    @OptionGroup var state: StateOptions

    func run() async throws {
      guard try state.vault().remove(name) else { throw HostError(.notFound, "no credential named \(name)") }
      print("removed \(name)")
    }
  }

  struct Rotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rotate",
      abstract:
        "Re-encrypts the vault under a new master key, written to master.key (or printed, with MLHOST_MASTER_KEY set).")
    @OptionGroup var state: StateOptions

    func run() async throws {
      let vault = try state.vault()
      let key = Digest.randomBytes(32)
      try vault.rotate(to: key)
      if ProcessInfo.processInfo.environment["MLHOST_MASTER_KEY"] != nil {
        print("vault re-encrypted; set MLHOST_MASTER_KEY=\(ByteCodecs.base64(key)) from now on")
      } else {
        print("vault re-encrypted under a new key in \(state.directory.appendingPathComponent("master.key").path)")
      }
    }
  }
}
