/// Limits that stop a runaway script without stopping the host.
public struct VMLimits: Sendable {
  /// Memory for the whole VM, all jobs together.
  public var memoryBytes: Int = 256 << 20
  /// Instructions one job may execute (all its coroutines together; allocations are charged too). 0: no limit.
  public var jobInstructions: Int64 = 2_000_000_000
  /// CPU seconds one job may use inside Lua (waiting on I/O or sleeping does not count). 0: no limit.
  public var jobSeconds: Double = 120
  /// Instructions the script's top level may execute while loading.
  public var loadInstructions: Int64 = 100_000_000
  /// CPU seconds the script's top level may use while loading.
  public var loadSeconds: Double = 10

  public init(
    memoryBytes: Int = 256 << 20, jobInstructions: Int64 = 2_000_000_000, jobSeconds: Double = 120,
    loadInstructions: Int64 = 100_000_000, loadSeconds: Double = 10
  ) {
    self.memoryBytes = memoryBytes
    self.jobInstructions = jobInstructions
    self.jobSeconds = jobSeconds
    self.loadInstructions = loadInstructions
    self.loadSeconds = loadSeconds
  }
}
