import Foundation
import Logging
import MLHostCore
import MLHostLua

/// One Lua state and the thread it lives on. A connector version runs in one VM; a reload builds a new VM.
/// The VM is an actor whose executor is its thread: the state, the coroutines and everything the natives keep per
/// VM are isolated to it, so the compiler refuses code that would touch them from another thread (`LuaState` is
/// not `Sendable`). A call from outside hops to the thread; a native runs isolated, since only isolated code
/// calls into the state.
public actor LuaVM {
  package nonisolated let executor: SerialThread
  package let L: LuaState
  nonisolated let limits: VMLimits
  package nonisolated let modulePaths: ModulePaths
  package var logger: Logger
  let machine: LuaMachine
  /// Host coroutines by their lua_State, so a suspending native can find the coroutine that called it.
  package var coroutines: [OpaquePointer: Coroutine] = [:]
  /// `mlhost.lock` keys held by this VM's coroutines.
  package var locks = KeyedLocks()
  /// Files this VM loaded, in load order (the script and every module it required): reload watches them.
  public package(set) var loadedFiles: [URL] = []
  /// State the layers above keep per VM (the natives' services), one value per type: the VM knows none of them.
  private var extensions: [ObjectIdentifier: any VMExtension] = [:]
  /// The typed natives pushed into the state, kept alive with it (each once, however often it is pushed).
  var natives: [ObjectIdentifier: TypedNative] = [:]
  package var closed = false

  public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

  public init(name: String, limits: VMLimits = VMLimits(), modulePaths: ModulePaths, logger: Logger) throws {
    self.limits = limits
    self.modulePaths = modulePaths
    self.logger = logger
    executor = SerialThread(name: "lua-\(name)")
    guard let machine = LuaMachine(memoryLimit: limits.memoryBytes) else {
      executor.shutdown()
      throw LuaError(message: "cannot create a Lua state")
    }
    self.machine = machine
    L = machine.state
    machine.owner = Unmanaged.passUnretained(self).toOpaque()
  }

  /// Bytes of Lua memory in use now.
  public var memoryInUse: Int { machine.memoryInUse }

  /// Runs `body` isolated to the VM, on its thread.
  public func perform<T: Sendable>(_ body: @Sendable (isolated LuaVM) throws -> T) throws -> T {
    try body(self)
  }

  /// Runs `body` with the raw state on the VM's thread: for embedders that add their own C modules, and for
  /// benchmarks. Anything `body` pushes it must pop.
  public func withState<T: Sendable>(_ body: @Sendable (LuaState) throws -> T) throws -> T {
    try body(L)
  }

  /// Runs `work` isolated to the VM after everything already posted: for callers on other threads (a finished
  /// store write, a job the dispatcher hands over) that must not wait for it.
  package nonisolated func post(_ work: @escaping @Sendable (isolated LuaVM) -> Void) {
    executor.post { [self] in onItsThread(work) }
  }

  /// Runs `work` isolated to the VM and blocks the calling thread until it returns: for callers outside Swift
  /// concurrency (the fuzzers' C entry point). Never call it from the VM's thread.
  package nonisolated func runAndWait<T: Sendable>(_ work: @escaping @Sendable (isolated LuaVM) -> T) -> T {
    executor.runAndWait { [self] in onItsThread(work) }
  }

  /// Runs `work` isolated to the VM from code the VM's thread runs outside a task (posted work). What
  /// `assumeIsolated` does, checked by the thread's own marker: the runtime's check cost 160 ns a native call
  /// (measured), four times the call itself.
  private nonisolated func onItsThread<T>(_ work: @escaping (isolated LuaVM) -> T) -> T {
    precondition(executor.isCurrent, "code isolated to a Lua VM ran off the VM's thread")
    // An isolated parameter changes a function's type, not how it is called (as in `assumeIsolated`).
    return unsafeBitCast(work, to: ((LuaVM) -> T).self)(self)
  }

  /// Installs the sandboxed environment, with `environment`'s namespace, into a new VM.
  public func prepare(_ environment: VMEnvironment) throws {
    try installSandbox(environment)
  }

  /// The VM's value of `type`, made on first use.
  package func `extension`<E: VMExtension>(_ type: E.Type) -> E {
    if let e = extensions[ObjectIdentifier(type)] { return e as! E }
    let e = E()
    extensions[ObjectIdentifier(type)] = e
    return e
  }

  /// Runs Lua source on the main thread of a prepared VM (under the load budget) and returns its first result.
  public func evaluate(_ source: String, chunkName: String = "=eval") throws -> LuaValue {
    try loadChunk(Data(source.utf8), chunkName: chunkName)
    try protectedCall(nargs: 0, nresults: 1)
    defer { L.pop() }
    return try L.value(at: -1)
  }

  /// Closes the state and stops the executor. Coroutines still suspended are failed with `reason`.
  public nonisolated func close(reason: String = "the connector version was unloaded") {
    post { vm in
      guard !vm.closed else { return }
      vm.closed = true
      for co in Array(vm.coroutines.values) { vm.finish(co, error: LuaError(message: reason)) }
      vm.machine.close()
      vm.executor.shutdown()
    }
  }

  // MARK: protected calls

  /// Calls the function below `nargs` arguments on the main thread's stack in protected mode, under the load
  /// budget, and leaves `nresults` results. Errors come back as `LuaError` with a traceback.
  package func protectedCall(nargs: Int32, nresults: Int32) throws {
    let base = L.top - nargs
    L.push(native: tracebackHandler)
    L.insert(at: base)
    // Each load-time call gets the whole load budget afresh.
    let budget = JobContext(
      name: "load", runID: "", instructions: limits.loadInstructions, seconds: limits.loadSeconds)
    let status = machine.charging(budget.budget) {
      let started = budget.arm()
      defer { budget.settle(startedAt: started) }
      return L.protectedCall(nargs: nargs, nresults: nresults, handler: base)
    }
    L.remove(at: base)
    guard status == .ok else {
      L.resetHook()
      defer { L.pop() }
      throw describe(status: status, errorAt: L, thread: nil)
    }
  }

  /// A LuaError for the error object on top of `stack`, after a failed call or resume of `thread`.
  func describe(status: LuaStatus, errorAt stack: LuaState, thread: LuaState?) -> LuaError {
    if status == .memoryError {
      let position = thread.flatMap { firstScriptPosition(in: $0) }.map { "\($0.file):\($0.line): " } ?? ""
      return LuaError(
        message: "\(position)memory limit of \(limits.memoryBytes >> 20) MiB exceeded", outOfMemory: true)
    }
    let traceback = thread.map { L.traceback(of: $0, message: nil) }
    if let text = stack.string(at: -1) {
      let (msg, tb) = Self.splitTraceback(text)
      return LuaError(message: msg, traceback: traceback ?? tb)
    }
    // A structured error: keep the table, and take its message for people. The object is the script's: it may be
    // too deep to copy, or carry no message.
    let value: LuaValue
    var message: String
    do {
      value = try stack.value(at: -1)
      message = value["message"].stringValue ?? "(error object is a \(stack.typeName(at: -1)))"
    } catch {
      value = .nil_
      message = "(error object is a \(stack.typeName(at: -1)) that cannot be read: \(error))"
    }
    if LuaError(message: message).location == nil, let at = thread.flatMap({ firstScriptPosition(in: $0) }) {
      message = "\(at.file):\(at.line): " + message
    }
    return LuaError(message: message, traceback: traceback ?? "", value: value)
  }

  private func firstScriptPosition(in thread: LuaState) -> (file: String, line: Int)? {
    thread.callerPosition(level: 0)
  }

  /// The traceback handler appends "\nstack traceback:" to the message; keep both parts apart.
  static func splitTraceback(_ s: String) -> (String, String) {
    guard let r = s.range(of: "\nstack traceback:") else { return (s, "") }
    return (String(s[..<r.lowerBound]), String(s[r.lowerBound...]).trimmingCharacters(in: .newlines))
  }

  // MARK: loading

  /// Loads a file as text (never binary) and leaves the chunk on `stack` (default: the main thread).
  func loadFile(_ url: URL, chunkName: String, onto stack: LuaState? = nil) throws {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw LuaError(message: "\(chunkName): cannot read: \(error.localizedDescription)")
    }
    try loadChunk(data, chunkName: chunkName, onto: stack ?? L)
    if !loadedFiles.contains(url.standardizedFileURL) { loadedFiles.append(url.standardizedFileURL) }
  }

  package func loadChunk(_ data: Data, chunkName: String, onto stack: LuaState? = nil) throws {
    let L = stack ?? self.L
    let status = data.withUnsafeBytes { L.load($0, name: chunkName.hasPrefix("=") ? chunkName : "@" + chunkName) }
    guard status == .ok else {
      let message = L.string(at: -1) ?? "cannot load \(chunkName)"
      L.pop()
      throw LuaError(message: message)
    }
  }

  /// Runs a script file's top level and returns how many values it left on the stack.
  package func runFile(_ url: URL, chunkName: String) throws {
    try loadFile(url, chunkName: chunkName)
    try protectedCall(nargs: 0, nresults: 1)
  }
}

/// Per-VM state of a layer above the VM (the natives' services), reached with `vm.extension(T.self)`.
public protocol VMExtension: AnyObject {
  init()
}

/// Where `require` looks: the connector's own folder first, then the stdlib.
public struct ModulePaths: Sendable {
  public var connectorDirectory: URL
  public var stdlibDirectory: URL?

  public init(connectorDirectory: URL, stdlibDirectory: URL?) {
    self.connectorDirectory = connectorDirectory
    self.stdlibDirectory = stdlibDirectory
  }

  /// Whether the first script frame calling on `L` (host chunks passed over) is a module of the stdlib.
  package func isStdlibCaller(_ L: LuaState) -> Bool {
    guard let stdlib = stdlibDirectory else { return false }
    return L.scriptSource()?.hasPrefix("@" + Self.displayName(stdlib) + "/") ?? false
  }

  /// A short name for messages: relative to the current directory when below it.
  public static func displayName(_ url: URL) -> String {
    let path = url.standardizedFileURL.path
    let cwd = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
  }
}

private let tracebackHandler: LuaNative = { raw in
  let L = LuaState(raw!)
  // Structured errors (tables) pass through untouched; strings get the traceback appended.
  guard let message = L.string(at: 1) else { return 1 }
  L.push(L.traceback(message: message, level: 1))
  return 1
}
