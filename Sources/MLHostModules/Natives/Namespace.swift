import MLHostVM

extension NativeModule {
  /// Every module of the namespace, in the order of the reference docs.
  public static let all: [NativeModule] = [
    .core, .log, .json, .crypto, .time, .money, .store, .http,
  ]
}

extension VMEnvironment {
  /// What connector scripts get: the whole `mlhost` namespace, `print` to the log, and the job machinery.
  public static let mlhost = VMEnvironment(modules: NativeModule.all, print: printNative, finish: JobNatives.install)
}

extension LuaVM {
  /// Installs the sandboxed environment and the `mlhost` namespace into a new VM.
  public func prepare() throws {
    try prepare(.mlhost)
  }
}
