import Foundation
import MLHostCore
import MLHostLua
import MLHostModules
import MLHostRuntime
import Testing

/// Replays the fuzzers' corpus (`Tests/Fuzz/corpus/<kind>/`, docs/FUZZING.md) through the targets they drive,
/// without the sanitizers: every input that once crashed the host or broke a property stays fixed.
@Suite struct FuzzCorpusTests {
  static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz/corpus")

  @Test(arguments: FuzzTargets.Kind.allCases)
  func corpusReplaysClean(kind: FuzzTargets.Kind) throws {
    let folder = Self.corpus.appendingPathComponent(kind.rawValue)
    let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    #expect(files.count >= 20, "the \(kind.rawValue) corpus went missing")
    for name in files {
      let data = try Data(contentsOf: folder.appendingPathComponent(name))
      let problems = FuzzTargets.run(kind, Array(data))
      #expect(problems.isEmpty, "\(kind.rawValue)/\(name): \(problems)")
    }
  }

  /// The webhook path's scan refuses what `json.decode` refuses, so no queued payload fails to decode in its job.
  @Test(arguments: [
    #""\x""#, #""\ud800""#, #""\udc00\ud800""#, #""\ud83dx""#, #""\u12G4""#, #""\"#, #"{"id":"\ud800"}"#,
  ])
  func scanRefusesWhatTheDecoderRefuses(text: String) {
    #expect(!Array(text.utf8).withUnsafeBytes { JSONScan.scan($0) }.valid)
    #expect(FuzzTargets.json(Array(text.utf8)).isEmpty)
  }

  @Test func scanAcceptsEveryEscapeTheDecoderAccepts() {
    let text = #"{"id":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}"#
    let scan = Array(text.utf8).withUnsafeBytes { JSONScan.scan($0) }
    #expect(scan.valid)
    #expect(scan.topLevelID == #"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"#)
  }

  /// `interval = "99999999999999999999s"` in a settings file trapped converting the seconds to Int64.
  @Test func hugeDurationsAreRefusedOrKeptAsNumbers() throws {
    #expect(DurationText.seconds("1" + String(repeating: "0", count: 400) + "s") == nil)
    let schema = try SettingsSchema(["interval": ["type": "duration"]])
    let value = try schema.validate(["interval": "99999999999999999999s"], base: nil)
    guard case .record(let t, _, _) = value, case .plain(.number(let seconds))? = t["interval"] else {
      Issue.record("expected a number of seconds, got \(value)")
      return
    }
    #expect(seconds == 1e20)
  }
}

/// Settings files nested past `TOMLReader.maxDepth` overflowed the reader's stack; now they fail on their line.
@Suite struct TOMLDepthTests {
  @Test(arguments: [
    "a = " + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000),
    Array(repeating: "a", count: 200_000).joined(separator: ".") + " = 1",
    "a = " + String(repeating: "{b=", count: 100_000) + "1" + String(repeating: "}", count: 100_000),
    "x = 1\n[" + Array(repeating: "t", count: 60).joined(separator: ".") + "]\n"
      + Array(repeating: "k", count: 41).joined(separator: ".") + " = 1",
  ])
  func tooDeepIsAnErrorOnItsLine(text: String) {
    let failure = #expect(throws: HostError.self) { try TOMLReader.parse(text) }
    #expect(failure?.line == text.utf8.count { $0 == 0x0A } + 1)
    #expect(failure?.detail == "nested deeper than \(TOMLReader.maxDepth) levels")
  }

  @Test func nestingUpToTheLimitIsRead() throws {
    let value = try TOMLReader.parse("a = " + String(repeating: "[", count: 99) + String(repeating: "]", count: 99))
    var level = value["a"]
    var depth = 1
    while case .array(let items) = level, let first = items.first {
      level = first
      depth += 1
    }
    #expect(depth == 99)
  }
}
