import Logging

extension Logger {
  /// This logger at warning level and above: for libraries whose info lines would drown the host's.
  public func silenced(below level: Logger.Level = .warning) -> Logger {
    var l = self
    l.logLevel = max(l.logLevel, level)
    return l
  }
}
