import Foundation

/// The built `mlhost` binary run as a child process from the repository root. Stopped with SIGKILL as a last
/// resort so a test never leaves it behind.
public final class MLHostProcess: @unchecked Sendable {
  /// Foundation's `Process.run()` on Linux is not safe to call from several threads at once (it crashed in a
  /// memcpy while the test suite started processes in parallel): every test spawns through this one lock.
  private static let spawning = NSLock()

  /// Starts `process`, one spawn at a time across the test process.
  public static func spawn(_ process: Process) throws {
    try spawning.withLock { try process.run() }
  }

  public struct Result {
    public let status: Int32
    public let stdout: String
    public let stderr: String
  }

  private let process = Process()
  private let lock = NSLock()
  private var buffer = Data()

  public static var binary: URL {
    for dir in [".build/debug", ".build/release"] {
      let url = Repository.root.appendingPathComponent(dir).appendingPathComponent("mlhost")
      if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    return Repository.root.appendingPathComponent(".build/debug/mlhost")
  }

  /// Runs to completion (at most `timeout` seconds) and returns its output; `stdin` is a file read as its input.
  public static func run(_ arguments: [String], timeout: Double = 60, stdin: URL? = nil) throws -> Result {
    let p = Process()
    p.executableURL = binary
    p.arguments = arguments
    p.currentDirectoryURL = Repository.root
    if let stdin { p.standardInput = try FileHandle(forReadingFrom: stdin) }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try spawn(p)
    // Both pipes are drained at once: a child that fills one while we block on the other would never exit.
    let errData = UncheckedSendable(Data())
    let drained = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
      errData.value = err.fileHandleForReading.readDataToEndOfFile()
      drained.signal()
    }
    let watchdog = DispatchWorkItem { [p] in if p.isRunning { p.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    p.waitUntilExit()
    watchdog.cancel()
    return Result(
      status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData.value, as: UTF8.self))
  }

  /// The same, without holding a thread of the cooperative pool while the child runs (two cores give the pool two
  /// threads; a blocked pool would starve the in-process servers the child is talking to).
  public static func run(_ arguments: [String], timeout: Double = 60, stdin: URL? = nil) async throws -> Result {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<Result, any Error>) in
      Thread.detachNewThread {
        c.resume(with: Swift.Result { try run(arguments, timeout: timeout, stdin: stdin) as Result })
      }
    }
  }

  /// Starts a long-running command; stdout and stderr are collected together. `executable`: another `mlhost` than
  /// the repository's build (a benchmark runs the release binary beside it, whatever debug build exists).
  public static func start(
    _ arguments: [String], environment: [String: String] = [:],
    executable: URL? = nil
  ) throws -> MLHostProcess {
    let m = MLHostProcess()
    m.process.executableURL = executable ?? binary
    m.process.arguments = arguments
    m.process.currentDirectoryURL = Repository.root
    if !environment.isEmpty {
      m.process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    let pipe = Pipe()
    m.process.standardOutput = pipe
    m.process.standardError = pipe
    pipe.fileHandleForReading.readabilityHandler = { [weak m] h in
      let d = h.availableData
      guard let m, !d.isEmpty else { return }
      m.lock.withLock { m.buffer.append(d) }
    }
    try spawn(m.process)
    return m
  }

  public var pid: Int32 { process.processIdentifier }
  public var output: String { lock.withLock { String(decoding: buffer, as: UTF8.self) } }

  /// Waits (suspended: tests share two threads of the cooperative pool, which a blocking wait would starve) until
  /// the output contains `text`.
  public func waitForOutput(_ text: String, within seconds: Double) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if output.contains(text) { return true }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return output.contains(text)
  }

  public func signal(_ sig: Int32) { Glibc.kill(process.processIdentifier, sig) }

  /// Waits (suspended) for exit; returns the status, or nil when it is still running after `seconds`.
  public func wait(within seconds: Double) async -> Int32? {
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { try? await Task.sleep(for: .milliseconds(10)) }
    if process.isRunning { return nil }
    try? await Task.sleep(for: .milliseconds(50))  // let the last output arrive
    return process.terminationStatus
  }

  /// SIGKILL if still running.
  public func kill() {
    if process.isRunning {
      Glibc.kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }
}

/// A mutable box handed to one other thread, read after it signals.
final class UncheckedSendable<T>: @unchecked Sendable {
  var value: T
  init(_ value: T) { self.value = value }
}
