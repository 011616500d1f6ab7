/// Limits that stop a runaway script without stopping the host.
public struct VMLimits: Sendable {
  /// Memory for the whole VM, all jobs together.
  public var memoryBytes: Int = 256 << 20
  /// Instructions one job may execute (all its coroutines together).
  public var jobInstructions: Int64 = 2_000_000_000
  /// Instructions the script's top level may execute while loading.
  public var loadInstructions: Int64 = 100_000_000

  public init(memoryBytes: Int = 256 << 20, jobInstructions: Int64 = 2_000_000_000, loadInstructions: Int64 = 100_000_000) {
    self.memoryBytes = memoryBytes
    self.jobInstructions = jobInstructions
    self.loadInstructions = loadInstructions
  }
}
