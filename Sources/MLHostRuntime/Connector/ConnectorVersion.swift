import Foundation
import Logging
import MLHostCore
import MLHostLua
import MLHostModules
import MLHostStore
import MLHostVM

/// Where a connector comes from: its script, its settings file and the stdlib it may require.
public struct ConnectorSource: Sendable {
  public var script: URL
  public var settingsFile: URL?
  public var stdlib: URL?
  public var limits: VMLimits
  /// Settings replaced after the file is read, by dotted path (`shopify.shop_url`): how `--sandbox` points a
  /// connector at the simulated systems without touching its settings file.
  public var overrides: [String: LuaValue] = [:]
  /// Settings of the systems a host provides (the sandbox's URLs and credential names), by dotted path; each applies
  /// only where the connector's settings already have its section (`x3`, `woocommerce`), so every connector takes
  /// the systems it uses and no other.
  public var systemSettings: [String: LuaValue] = [:]

  public init(script: URL, settingsFile: URL? = nil, stdlib: URL? = nil, limits: VMLimits = VMLimits()) {
    self.script = script.standardizedFileURL
    self.settingsFile = settingsFile?.standardizedFileURL
    self.stdlib = stdlib?.standardizedFileURL
    self.limits = limits
  }

  /// `settings` with the system settings its sections take and every override applied, creating the tables on the way.
  func applyingOverrides(to settings: LuaValue) -> LuaValue {
    appliedOverrides(to: settings).reduce(settings) { value, entry in
      Self.set(value, entry.key.split(separator: ".").map(String.init)[...], entry.value)
    }
  }

  /// The overrides `settings` takes, by path, in the order they apply.
  func appliedOverrides(to settings: LuaValue) -> [(key: String, value: LuaValue)] {
    var sections: Set<String> = []
    if case .map(let m) = settings { sections = Set(m.keys.compactMap(\.stringValue)) }
    let system = systemSettings.filter { sections.contains(String($0.key.prefix { $0 != "." })) }
    return system.merging(overrides) { _, given in given }.sorted { $0.key < $1.key }
  }

  private static func set(_ table: LuaValue, _ path: ArraySlice<String>, _ value: LuaValue) -> LuaValue {
    guard let key = path.first else { return value }
    var m: [LuaValue: LuaValue] = [:]
    if case .map(let existing) = table { m = existing }
    m[.text(key)] = set(m[.text(key)] ?? .nil_, path.dropFirst(), value)
    return .map(m)
  }
}

/// How one job run ended.
public enum JobOutcome: Sendable {
  case succeeded([LuaValue])
  case failed(LuaError)

  public var error: LuaError? {
    if case .failed(let e) = self { return e }
    return nil
  }
}

/// One loaded version of a connector: a VM that ran the script and holds its declarations. A reload builds a new
/// version and retires this one once its running jobs finish.
public final class ConnectorVersion: @unchecked Sendable {
  public let source: ConnectorSource
  public let definition: ConnectorDefinition
  /// SHA-256 over the script, every module it required and the settings file: what makes this version.
  public let contentHash: String
  /// Every file the version depends on; a change to any of them reloads.
  public let files: [URL]
  let vm: LuaVM
  private let lock = NSLock()
  private var running = 0
  private var drained: [@Sendable () -> Void] = []

  private init(source: ConnectorSource, definition: ConnectorDefinition, files: [URL], hash: String, vm: LuaVM) {
    self.source = source
    self.definition = definition
    self.files = files
    contentHash = hash
    self.vm = vm
  }

  /// Loads and validates a version: reads the settings, builds a sandboxed VM, runs the script's top level and
  /// checks that it returned its connector. Any failure closes the VM and throws `path:line: message`.
  public static func load(_ source: ConnectorSource, logger: Logger, runtime: JobRuntime? = nil) async throws
    -> ConnectorVersion
  {
    var settings: LuaValue = .nil_
    var settingsLines: [String: Int] = [:]
    var settingsData = Data()
    if let file = source.settingsFile {
      do { settingsData = try Data(contentsOf: file) } catch {
        throw HostError(
          .input, "cannot read settings: \(error.localizedDescription)", file: ModulePaths.displayName(file))
      }
      do {
        (settings, settingsLines) = try TOMLReader.parseWithLines(String(decoding: settingsData, as: UTF8.self))
      } catch let e as HostError {
        throw HostError(e.kind, e.detail, file: ModulePaths.displayName(file), line: e.line)
      }
    }
    let scriptName = ModulePaths.displayName(source.script)
    // No `script=` on every line: the `loaded connector` line names it, and `at=` names the line that logged.
    let vm = try LuaVM(
      name: source.script.deletingPathExtension().lastPathComponent, limits: source.limits,
      modulePaths: ModulePaths(
        connectorDirectory: source.script.deletingLastPathComponent(), stdlibDirectory: source.stdlib),
      logger: logger)
    let settingsValue = source.applyingOverrides(to: settings)
    let overridden = Set(source.appliedOverrides(to: settings).map(\.key))
    let lines = settingsLines
    do {
      let (definition, files) = try await vm.perform { vm -> (ConnectorDefinition, [URL]) in
        vm.services.settings = settingsValue
        vm.services.runtime = runtime
        vm.services.settingsBase = source.settingsFile?.deletingLastPathComponent()
        vm.services.settingsSource =
          source.settingsFile.map(ModulePaths.displayName) ?? "the defaults (no settings file)"
        vm.services.settingsLines = lines
        vm.services.settingsOverrides = overridden
        try vm.installSandbox(.mlhost)
        try vm.runFile(source.script, chunkName: scriptName)
        defer { vm.L.pop() }
        guard let definition = vm.services.definition,
          vm.L.getMetatable(-1)
        else {
          throw LuaError(message: "\(scriptName): the script must end with `return` of its mlhost.connector{...}")
        }
        vm.L.pushMetatable(named: ConnectorMethods.metatableName)
        let isConnector = vm.L.rawEqual(-1, -2)
        vm.L.pop(2)
        guard isConnector else {
          throw LuaError(message: "\(scriptName): the script must end with `return` of its mlhost.connector{...}")
        }
        return (definition, vm.loadedFiles)
      }
      var allFiles = files
      if let s = source.settingsFile { allFiles.append(s) }
      var hashInput = Data()
      for f in files { hashInput.append((try? Data(contentsOf: f)) ?? Data()) }
      hashInput.append(settingsData)
      let hash = hashInput.withUnsafeBytes { ByteCodecs.hex(Digest.hash(.sha256, $0)) }
      try await vm.perform { $0.services.versionHash = hash }
      return ConnectorVersion(source: source, definition: definition, files: allFiles, hash: hash, vm: vm)
    } catch {
      vm.close()
      throw error
    }
  }

  /// A short form of the content hash for logs.
  public var shortHash: String { String(contentHash.prefix(12)) }

  /// Runs job `name` with `input` in a new coroutine and waits for it to end.
  public func run(
    job name: String, input: LuaValue = .nil_, runID: String = Digest.uuid4(), trigger: JobTrigger = .manual
  )
    async -> JobOutcome
  {
    await run(JobRun(job: name, input: .value(input), runID: runID, trigger: trigger))
  }

  /// Runs one job (or, for `ReplayJob.name`, one stored record again) and waits for it to end.
  public func run(_ run: JobRun) async -> JobOutcome {
    let function: Int32
    var declaredAt: String?
    if run.job == ReplayJob.name {
      guard run.record != nil else { return .failed(LuaError(message: "a replay needs the stored record")) }
      function = -1
    } else if let declaration = definition.jobs[run.job] {
      function = declaration.functionRef
      declaredAt = declaration.declaredAt
    } else {
      return .failed(LuaError(message: "connector '\(definition.name)' has no job '\(run.job)'"))
    }
    let resultBlame = declaredAt.map { "\($0): " } ?? ""
    lock.withLock { running += 1 }
    defer { finishedOne() }
    let limits = source.limits
    return await withCheckedContinuation { (cont: CheckedContinuation<JobOutcome, Never>) in
      vm.post { vm in
        guard !vm.closed else {
          cont.resume(returning: .failed(LuaError(message: "the connector version was unloaded")))
          return
        }
        let L = vm.L
        L.pushRef(function == -1 ? vm.services.replayRecord : function)
        L.push(run.jobTable)
        L.pushRef(vm.services.jobMetatable)
        L.setMetatable(-2)
        if let record = run.record {
          L.push(
            [
              "id": .integer(record.id), "kind": .text(record.kind), "key": .text(record.key),
              "input": .text(record.input),
            ] as LuaValue)
        } else if case .failure(let error) = run.input.push(L) {
          L.pop(2)
          cont.resume(returning: .failed(error))
          return
        }
        let job = JobContext(
          name: run.job, runID: run.runID, jobID: run.jobID, instructions: limits.jobInstructions,
          seconds: limits.jobSeconds)
        vm.spawn(from: L, nargs: 2, job: job) { co, error in
          if let error {
            cont.resume(returning: .failed(error))
            return
          }
          var values: [LuaValue] = []
          do {
            for i in 1...max(co.thread.top, 1) where i <= co.thread.top { values.append(try co.thread.value(at: i)) }
          } catch {
            cont.resume(
              returning: .failed(
                LuaError(message: "\(resultBlame)the job's result cannot leave Lua: \(error)").of(kind: .script)))
            return
          }
          cont.resume(returning: .succeeded(values))
        }
      }
    }
  }

  private func finishedOne() {
    let waiters: [@Sendable () -> Void] = lock.withLock {
      running -= 1
      guard running == 0 else { return [] }
      defer { drained = [] }
      return drained
    }
    for w in waiters { w() }
  }

  public var runningJobs: Int { lock.withLock { running } }

  /// Waits up to `grace` seconds for running jobs to finish, then closes the VM (failing any still suspended).
  public func retire(grace: Double) async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let once = ResumeOnce(c)
      let idle: Bool = lock.withLock {
        if running == 0 { return true }
        drained.append(once.resume)
        return false
      }
      if idle { return once.resume() }
      Task {
        try? await Task.sleep(nanoseconds: UInt64(grace * 1e9))
        once.resume()
      }
    }
    vm.close(reason: "the connector version was retired before this job finished (grace period over)")
  }

  /// The VM's memory in use, for status and benchmarks.
  public func memoryInUse() async -> Int { (try? await vm.perform { $0.memoryInUse }) ?? 0 }

  /// Whether the VM stays near its memory limit (over three quarters) after a full collection: what it keeps alive between jobs
  /// (tables in globals, say) leaves later jobs no room.
  func isMemoryExhausted() async -> Bool {
    let limit = source.limits.memoryBytes
    let used =
      (try? await vm.perform { vm in
        vm.L.collectGarbage()
        return vm.memoryInUse
      }) ?? 0
    return used > limit / 4 * 3
  }
}

/// Resumes a continuation from whichever of several paths gets there first.
final class ResumeOnce: @unchecked Sendable {
  private let lock = NSLock()
  private var continuation: CheckedContinuation<Void, Never>?

  init(_ c: CheckedContinuation<Void, Never>) { continuation = c }

  @Sendable func resume() {
    let c: CheckedContinuation<Void, Never>? = lock.withLock {
      defer { continuation = nil }
      return continuation
    }
    c?.resume()
  }
}

/// One run of a job as the host asks for it.
public struct JobRun: Sendable {
  public enum Input: Sendable {
    case value(LuaValue)
    /// JSON text from the queue, decoded in the VM with exact decimals.
    case json(String?)

    /// Pushes the input; a malformed JSON text pushes nothing and fails.
    func push(_ L: LuaState) -> Result<Void, LuaError> {
      switch self {
      case .value(let v):
        L.push(v)
      case .json(nil):
        L.pushNil()
      case .json(let text?):
        // Decoded from the Lua copy, which Lua keeps NUL-terminated as the decoder expects.
        let top = L.top
        L.push(text)
        var decoder = LuaJSONDecoder(L: L, bytes: L.bytes(at: -1)!, decimals: true)
        do {
          try decoder.decodeDocument()
          L.remove(at: -2)
        } catch {
          L.top = top
          let detail = (error as? LuaJSONDecoder.Failure).map { "\($0.message) at byte \($0.offset + 1)" } ?? "\(error)"
          return .failure(LuaError(message: "the job's input is not valid JSON: \(detail)"))
        }
      }
      return .success(())
    }
  }

  public var job: String
  public var input: Input
  public var runID: String
  public var trigger: JobTrigger
  public var jobID: Int64?
  public var attempt: Int
  /// For a replay: the audit row to run again.
  public var record: RecordRow?

  public init(
    job: String, input: Input = .value(.nil_), runID: String = Digest.uuid4(), trigger: JobTrigger = .manual,
    jobID: Int64? = nil, attempt: Int = 1, record: RecordRow? = nil
  ) {
    self.job = job
    self.input = input
    self.runID = runID
    self.trigger = trigger
    self.jobID = jobID
    self.attempt = attempt
    self.record = record
  }

  /// The fields of the job object a job body receives.
  var jobTable: LuaValue {
    var t: [LuaValue: LuaValue] = [
      "name": .text(job), "run_id": .text(runID), "trigger": .text(trigger.rawValue),
      "attempt": .integer(Int64(attempt)),
    ]
    if let id = jobID { t["id"] = .integer(id) }
    return .map(t)
  }
}
