import Foundation
import MLHostRuntime

// Two builds of one file. `scripts/fuzz` builds it with `-sanitize=fuzzer,address -DFUZZING`: libFuzzer drives
// the target named by MLHOST_FUZZ (json, webhook or toml). A plain `swift build` makes a replayer instead:
// `mlhost-fuzz <kind> FILE|DIR...` runs each input through the same target once and prints what it broke,
// which is how a crash file from the fuzzer is reproduced without the sanitizers.

#if FUZZING
  nonisolated(unsafe) private var kind = FuzzTargets.Kind.json

  @_cdecl("LLVMFuzzerTestOneInput")
  public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    let problems = FuzzTargets.run(kind, input)
    if !problems.isEmpty { fatalError("\(kind.rawValue) target: " + problems.joined(separator: "; ")) }
    return 0
  }

  @_silgen_name("LLVMFuzzerRunDriver")
  func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
  ) -> Int32

  // SwiftPM links an executable's entry point under the module's name and defines `main` to it, so this is where
  // the process starts (libFuzzer's own `main` is linked but never runs): it picks the target, then hands over.
  @main enum Fuzz {
    static func main() {
      let name = ProcessInfo.processInfo.environment["MLHOST_FUZZ"] ?? "json"
      guard let k = FuzzTargets.Kind(rawValue: name) else {
        FileHandle.standardError.write(Data("MLHOST_FUZZ must be one of json, webhook, toml\n".utf8))
        exit(2)
      }
      kind = k
      var argc = CommandLine.argc
      var argv = CommandLine.unsafeArgv
      exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOne))
    }
  }
#else
  @main enum Replay {
    static func main() {
      let args = CommandLine.arguments.dropFirst()
      guard let first = args.first, let kind = FuzzTargets.Kind(rawValue: first), args.count >= 2 else {
        FileHandle.standardError.write(Data("usage: mlhost-fuzz json|webhook|toml FILE|DIR...\n".utf8))
        exit(2)
      }
      var failed = 0
      var count = 0
      for path in args.dropFirst() {
        var isDirectory: ObjCBool = false
        FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let files =
          isDirectory.boolValue
          ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
          : [path]
        for file in files {
          guard let data = FileManager.default.contents(atPath: file) else {
            print("\(file): cannot read")
            failed += 1
            continue
          }
          count += 1
          let problems = FuzzTargets.run(kind, Array(data))
          if !problems.isEmpty {
            failed += 1
            print("\(file): " + problems.joined(separator: "; "))
          }
        }
      }
      print("\(count) inputs, \(failed) with problems")
      exit(failed == 0 ? 0 : 1)
    }
  }
#endif
