import Foundation
import Hummingbird
import MLHostCore
import MLHostSystems
import Synchronization

/// What can go wrong on purpose, the same for every simulated system: a share of API requests fails, each
/// request can take extra time, and a "slow" failure acts first and answers late (the ambiguous case a client
/// must survive without creating a duplicate). Seeded, so a run can be repeated.
public struct Faults: Sendable {
  /// Fraction of API requests (0...1) that meet a fault.
  public var rate: Double = 0
  /// Added to every API request, in seconds.
  public var latency: Double = 0
  /// How long a slow fault holds its answer after acting, in seconds.
  public var slowDelay: Double = 3
  public var seed: UInt64 = 1
  /// Only these kinds of fault (`serverError`, `serverErrorAfterCommit`, `unavailable`…); empty: every kind the
  /// system shows.
  public var only: Set<String> = []

  public init(rate: Double = 0, latency: Double = 0, slowDelay: Double = 3, seed: UInt64 = 1, only: Set<String> = []) {
    self.rate = rate
    self.latency = latency
    self.slowDelay = slowDelay
    self.seed = seed
    self.only = only
  }
}

/// The faults a system can show; each simulator says which of them its real counterpart shows.
enum Fault: String, Sendable, CaseIterable {
  case throttled, tooMany, unavailable, badGateway, slow, revokedToken
  /// HTTP 500 before the request acted, and HTTP 500 after it acted (a create that committed, then failed).
  case serverError, serverErrorAfterCommit
  /// A create answered 201 with no properties of what it created (the API facts do not describe the answer): only
  /// asked for by name, never drawn at random.
  case bareCreate
}

/// SplitMix64: small, seedable, good enough to pick faults and seed data.
struct SeededRandom: Sendable {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
  mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
  mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}

/// Fault decisions and counters shared by a simulator's handlers.
final class FaultPlan: Sendable {
  let faults: Faults
  private let random: Mutex<SeededRandom>
  private let kinds: [Fault]
  let injected = Mutex<[Fault: Int]>([:])
  /// Faults asked for by name (a test case, the sandbox's control surface): the next requests whose target
  /// contains `match`, after skipping `skip` of them, meet `kind`, `times` times.
  private let scripted = Mutex<[(kind: Fault, match: String, skip: Int, times: Int)]>([])
  /// The kinds this system shows.
  let shown: [Fault]

  /// `scriptable`: kinds a test may ask for by name that are never drawn at random.
  init(_ faults: Faults, kinds: [Fault], scriptable: [Fault] = []) {
    self.faults = faults
    shown = kinds + scriptable
    self.kinds = faults.only.isEmpty ? kinds : kinds.filter { faults.only.contains($0.rawValue) }
    random = Mutex(SeededRandom(seed: faults.seed))
  }

  /// Plans `times` faults of `kind` for the requests whose target contains `match`, after `skip` of them pass.
  func script(_ kind: Fault, match: String, skip: Int, times: Int) {
    scripted.withLock { $0.append((kind, match, max(skip, 0), max(times, 1))) }
  }

  /// The fault this request (`target`: what it asks, e.g. `POST /api1/x3/erp/SEED/SINVOICE` or a GraphQL root
  /// field) meets, if any: a scripted one first, then one drawn at the configured rate.
  func draw(_ target: String) -> Fault? {
    let planned: Fault? = scripted.withLock { list in
      guard let i = list.firstIndex(where: { $0.match.isEmpty || target.contains($0.match) }) else { return nil }
      if list[i].skip > 0 {
        list[i].skip -= 1
        return nil
      }
      list[i].times -= 1
      let kind = list[i].kind
      if list[i].times == 0 { list.remove(at: i) }
      return kind
    }
    if let planned {
      injected.withLock { $0[planned, default: 0] += 1 }
      return planned
    }
    guard faults.rate > 0, !kinds.isEmpty else { return nil }
    let fault: Fault? = random.withLock { r in r.unit() < faults.rate ? r.pick(kinds) : nil }
    if let fault { injected.withLock { $0[fault, default: 0] += 1 } }
    return fault
  }

  func delay() async {
    guard faults.latency > 0 else { return }
    try? await Task.sleep(nanoseconds: UInt64(faults.latency * 1e9))
  }

  func holdSlow() async {
    try? await Task.sleep(nanoseconds: UInt64(faults.slowDelay * 1e9))
  }
}

enum SimJSON {
  static func data(_ object: Any) -> Data {
    (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
      ?? Data("{}".utf8)
  }

  static func response(_ object: Any, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    response(data: data(object), status: status, headers: headers)
  }

  static func response(data: Data, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
    var h = headers
    h[.contentType] = "application/json"
    return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }

  static func parse(_ request: Request, limit: Int = 1 << 22) async throws -> [String: Any] {
    var request = request
    return object(Array(buffer: try await request.collectBody(upTo: limit)))
  }

  /// `bytes` as a JSON object (empty when they are not one).
  static func object(_ bytes: [UInt8]) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:]
  }

  /// A form (`a=b&c=d`) or a JSON object, as token endpoints accept both.
  static func fields(_ request: Request) async throws -> [String: String] {
    var request = request
    let text = String(buffer: try await request.collectBody(upTo: 1 << 16))
    if let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] {
      return object.compactMapValues { $0 as? String }
    }
    var out: [String: String] = [:]
    for pair in text.split(separator: "&") {
      let kv = pair.split(separator: "=", maxSplits: 1).map {
        String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
      }
      if kv.count == 2 { out[kv[0]] = kv[1] }
    }
    return out
  }
}

/// ISO 8601 in UTC with whole seconds, as both systems print timestamps. Done with the C library: the
/// simulators print and parse thousands per second, and a Foundation formatter per call costs more than the rest.
enum SimTime {
  static func iso(_ t: Double) -> String {
    var seconds = time_t(t.rounded(.down))
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
  }

  /// `YYYY-MM-DDTHH:MM:SS` with `Z` (fractions ignored), or a bare date.
  static func parse(_ s: String) -> Double? {
    let digits = s.utf8.map { $0 }
    func number(_ from: Int, _ count: Int) -> Int? {
      guard from + count <= digits.count else { return nil }
      var n = 0
      for b in digits[from..<(from + count)] {
        guard b >= 48, b <= 57 else { return nil }
        n = n * 10 + Int(b - 48)
      }
      return n
    }
    guard let y = number(0, 4), let m = number(5, 2), let d = number(8, 2) else { return nil }
    var parts = tm()
    parts.tm_year = Int32(y - 1900)
    parts.tm_mon = Int32(m - 1)
    parts.tm_mday = Int32(d)
    if digits.count > 10 {
      guard let h = number(11, 2), let mi = number(14, 2), let se = number(17, 2) else { return nil }
      (parts.tm_hour, parts.tm_min, parts.tm_sec) = (Int32(h), Int32(mi), Int32(se))
    }
    return Double(timegm(&parts))
  }
}

/// Access tokens a simulator issued, with their expiry; revoking one is a fault.
final class IssuedTokens: Sendable {
  private let tokens = Mutex<[String: Double]>([:])
  private let count = Mutex(0)
  let lifetime: Double

  init(lifetime: Double) { self.lifetime = lifetime }

  func issue(prefix: String) -> String {
    let token = prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    tokens.withLock { $0[token] = Date().timeIntervalSince1970 + lifetime }
    count.withLock { $0 += 1 }
    return token
  }

  /// How many tokens were issued.
  var issued: Int { count.withLock { $0 } }

  func valid(_ token: String) -> Bool { tokens.withLock { ($0[token] ?? 0) > Date().timeIntervalSince1970 } }
  func revoke(_ token: String) { _ = tokens.withLock { $0.removeValue(forKey: token) } }
}

/// The sandbox's control routes (`/sandbox/<system>/…`): what a person (`mlhost sandbox`) or the live generator
/// asks the simulated systems to do that their real APIs cannot — add an X3 customer, place a store order. Served
/// only when the sandbox was given a control token, and only to requests that carry it.
enum SandboxControl {
  static let header = "X-MLHost-Sandbox-Token"

  static func route(
    _ router: Router<BasicRequestContext>, _ method: HTTPTypes.HTTPRequest.Method, _ path: RouterPath, token: String?,
    _ handler: @escaping @Sendable (Request, BasicRequestContext) async throws -> Response
  ) {
    guard let token else { return }
    let expected = Array(token.utf8)
    router.on(path, method: method) { request, context -> Response in
      let given = Array((request.headers[.init(header)!] ?? "").utf8)
      let same =
        given.count == expected.count
        && given.withUnsafeBytes { a in expected.withUnsafeBytes { b in Digest.constantTimeEqual(a, b) } }
      guard same else {
        return SimJSON.response(["error": "the sandbox control token is missing or wrong"], status: .unauthorized)
      }
      return try await handler(request, context)
    }
  }

  /// A refusal the caller can print as it is.
  static func refuse(_ message: String, status: HTTPResponse.Status = .badRequest) -> Response {
    SimJSON.response(["error": message], status: status)
  }
}
