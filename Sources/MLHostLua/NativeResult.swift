/// What a typed native returns: how many results it pushed, or that it suspended the coroutine that called it.
public struct NativeResult: Sendable, Equatable {
  public let code: Int32

  public static func values(_ n: Int32) -> NativeResult { NativeResult(code: n) }
  public static let none = NativeResult(code: 0)
  public static let one = NativeResult(code: 1)
  /// The calling coroutine is suspended; the host resumes it with the results.
  public static let suspended = NativeResult(code: NativeStatus.suspend)
  /// The error object on top of the stack is raised (an error the native built itself, such as a host error table).
  public static let raised = NativeResult(code: NativeStatus.raise)
}
