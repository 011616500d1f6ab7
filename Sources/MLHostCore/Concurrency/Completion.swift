/// Where work started on another thread delivers its result: called once, on the thread that finished the work,
/// which can hand it straight to the thread that waits for it (a Lua VM's) without a hop through the task pool.
public typealias Completion<T> = @Sendable (Result<T, any Error>) -> Void

/// Awaits work that reports to a completion.
public func awaiting<T: Sendable>(_ start: (@escaping Completion<T>) -> Void) async throws -> T {
  try await withCheckedThrowingContinuation { continuation in start { continuation.resume(with: $0) } }
}
