import Foundation

extension Sandbox {
  /// `settings` under `sections` only: what a connector whose settings have just those sections takes as `--set`
  /// (a section it does not have is an unknown setting to it).
  public func settings(sections: Set<String>) -> [String: String] {
    settings.filter { sections.contains(String($0.key.prefix { $0 != "." })) }
  }
}
