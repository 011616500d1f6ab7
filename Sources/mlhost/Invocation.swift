import Foundation

/// How a printed command names this program so that it runs as printed, from any folder: `mlhost` when that is
/// this very binary on the PATH (the README's install step), otherwise this binary's absolute path (a build
/// run with `swift run` is not on the PATH).
enum Invocation {
  static let mlhost: String = {
    guard let me = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return "mlhost" }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":") {
      let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("mlhost").resolvingSymlinksInPath().path
      if candidate == URL(fileURLWithPath: me).resolvingSymlinksInPath().path { return "mlhost" }
    }
    return me
  }()

  /// `mlhost replay <id>` for a record of the state folder named by `stateHint` (see `StateOptions.hint`).
  static func replay(_ id: Int64, stateHint: String) -> String { "\(mlhost) replay \(id)\(stateHint)" }
}
