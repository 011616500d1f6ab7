import Foundation

/// Limits of this process.
public enum ProcessLimits {
  /// Raises the soft limit on open files to the hard one (each connection takes a descriptor, and the soft limit
  /// is often 1024). Returns why it could not, or nil.
  @discardableResult
  public static func raiseOpenFiles() -> String? {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return String(cString: strerror(errno)) }
    guard limit.rlim_cur < limit.rlim_max else { return nil }
    limit.rlim_cur = limit.rlim_max
    return setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? nil : String(cString: strerror(errno))
  }
}
