import CBenchSupport
import CLua
import CLuaBridge
import Foundation
import Hummingbird
import Logging
import MLHostLua
import MLHostRuntime
import MLHostSandbox
import MLHostStore
import MLHostSystems
import MLHostTesting
import MLHostVM

// Benchmarks of the core host, each measured side by side with its baseline in the same run; medians of
// several rounds. Build with `swift build -c release` and run `.build/release/mlhost-bench [name...]`.

func median(_ xs: [Double]) -> Double {
  let s = xs.sorted()
  return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ x: Double, _ places: Int = 1) -> String { String(format: "%.\(places)f", x) }

let quiet: Logger = {
  var l = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
  l.logLevel = .critical
  return l
}()

func newVM(memoryMB: Int = 1024) async throws -> LuaVM {
  let vm = try LuaVM(
    name: "bench", limits: VMLimits(memoryBytes: memoryMB << 20, jobInstructions: 0, loadInstructions: 0),
    modulePaths: ModulePaths(connectorDirectory: URL(fileURLWithPath: "."), stdlibDirectory: nil), logger: quiet)
  try await vm.prepare()
  return vm
}

/// Times `rounds` runs of `body` (Lua source returning nothing) in `vm`, in seconds, interleaved with `other`.
func interleaved(_ vm: LuaVM, rounds: Int, _ a: String, _ b: String) async throws -> (Double, Double) {
  var ta: [Double] = []
  var tb: [Double] = []
  for _ in 0..<rounds {
    for (code, sink) in [(a, 0), (b, 1)] {
      let t = try await vm.evaluate("local t0 = os.clock() \(code) return os.clock() - t0")
      guard case .number(let secs) = t else { fatalError("\(t)") }
      if sink == 0 { ta.append(secs) } else { tb.append(secs) }
    }
  }
  return (median(ta), median(tb))
}

nonisolated(unsafe) private let swiftNoop: mlh_native_fn = { _ in 0 }

func benchCalls() async throws {
  let vm = try await newVM()
  _ = try await vm.withState { L in
    lua_pushcclosure(L.raw, mlh_bench_c_noop, 0)
    lua_setglobal(L.raw, "c_noop")
    L.push(native: swiftNoop)
    lua_setglobal(L.raw, "swift_noop")
    return 0
  }
  // The signature every mlhost native is written in: a Swift closure behind the dispatching trampoline.
  _ = try await vm.perform { vm in
    vm.push(native: { _, _ in .none })
    vm.L.setGlobal("typed_noop")
  }
  let n = 10_000_000
  let call = { (f: String) in "local f = \(f) for i = 1, \(n) do f() end" }
  let (c, s) = try await interleaved(vm, rounds: 9, call("c_noop"), call("swift_noop"))
  let (s2, t) = try await interleaved(vm, rounds: 9, call("swift_noop"), call("typed_noop"))
  let (loop, _) = try await interleaved(vm, rounds: 9, "for i = 1, \(n) do end", "")
  let cNs = c / Double(n) * 1e9
  let sNs = s / Double(n) * 1e9
  let tNs = t / Double(n) * 1e9 * s / s2
  let loopNs = loop / Double(n) * 1e9
  print(
    "calls: Lua→C no-op \(fmt(cNs)) ns, Lua→Swift native no-op \(fmt(sNs)) ns, typed native no-op \(fmt(tNs)) ns "
      + "(empty loop \(fmt(loopNs)) ns)")
  print(
    "calls: ratio Swift/C \(fmt(sNs / cNs, 2))×; call cost alone \(fmt((sNs - loopNs) / (cNs - loopNs), 2))× (goal ≤ 2×); "
      + "typed \(fmt((tNs - loopNs) / (cNs - loopNs), 2))× C, \(fmt((tNs - loopNs) / (sNs - loopNs), 2))× raw Swift")
  vm.close()
}

/// A page of 250 Shopify-style orders (GraphQL response shape), as JSON text.
func shopifyPage() -> String {
  var edges: [String] = []
  for i in 1...250 {
    let id = 5_678_901_234_000 + i
    var lines: [String] = []
    for j in 1...3 {
      lines.append(
        """
        {"node":{"id":"gid://shopify/LineItem/\(id * 10 + j)","sku":"SKU-\(j)-\(i % 17)","title":"Produit n°\(j) — édition \(i)",\
        "quantity":\(j),"originalUnitPriceSet":{"shopMoney":{"amount":"\(j * 7).95","currencyCode":"EUR"}},\
        "taxLines":[{"rate":0.2,"priceSet":{"shopMoney":{"amount":"\(j).59","currencyCode":"EUR"}}}]}}
        """)
    }
    edges.append(
      """
      {"cursor":"eyJsYXN0X2lkIjo\(i)","node":{"id":"gid://shopify/Order/\(id)","legacyResourceId":\(id),"name":"#\(1000 + i)",\
      "email":"client\(i)@example.com","updatedAt":"2025-01-12T14:02:\(String(format: "%02d", i % 60))Z","displayFinancialStatus":"PAID",\
      "cancelledAt":null,"test":false,"totalPriceSet":{"shopMoney":{"amount":"124.95","currencyCode":"EUR"}},\
      "subtotal":124.95,"taxes":20.83,"tags":[],"noteAttributes":{},\
      "shippingAddress":{"name":"Zoë Faure","address1":"12 rue de l'Église","city":"Lyon","zip":"69002","countryCode":"FR"},\
      "lineItems":{"edges":[\(lines.joined(separator: ","))]}}}
      """)
  }
  return """
    {"data":{"orders":{"edges":[\(edges.joined(separator: ","))],"pageInfo":{"hasNextPage":true,"endCursor":"abc"}}},\
    "extensions":{"cost":{"requestedQueryCost":252,"actualQueryCost":252,"throttleStatus":{"maximumAvailable":2000.0,\
    "currentlyAvailable":1748,"restoreRate":100.0}}}}
    """
}

func benchJSON() async throws {
  let vm = try await newVM()
  let page = shopifyPage()
  let loaded = try await vm.withState { L -> Bool in
    guard let lib = dlopen("/usr/lib/x86_64-linux-gnu/lua/5.4/cjson.so", RTLD_NOW),
      let sym = dlsym(lib, "luaopen_cjson")
    else { return false }
    let open = unsafeBitCast(sym, to: lua_CFunction.self)
    luaL_requiref(L.raw, "cjson", open, 1)
    L.pop()
    L.push(page)
    lua_setglobal(L.raw, "PAGE")
    return true
  }
  guard loaded else {
    print("json: lua-cjson not found (apt-get install lua-cjson); skipped")
    return
  }
  let reps = 20
  let ours = "local j = mlhost.json for i = 1, \(reps) do j.encode(j.decode(PAGE)) end"
  let exact = "local j = mlhost.json local o = {decimals = true} for i = 1, \(reps) do j.encode(j.decode(PAGE, o)) end"
  let cjson = "local j = cjson for i = 1, \(reps) do j.encode(j.decode(PAGE)) end"
  let (o, c) = try await interleaved(vm, rounds: 11, ours, cjson)
  let (e, _) = try await interleaved(vm, rounds: 11, exact, "")
  let kb = Double(page.utf8.count) / 1024
  let perPage = { (t: Double) in t / Double(reps) * 1000 }
  print(
    "json: 250-order page (\(fmt(kb, 0)) KiB) decode+encode: mlhost.json \(fmt(perPage(o), 2)) ms, "
      + "with exact decimals \(fmt(perPage(e), 2)) ms, lua-cjson \(fmt(perPage(c), 2)) ms")
  print("json: speed vs lua-cjson \(fmt(c / o, 2))× (exact decimals \(fmt(c / e, 2))×; goal ≥ 1×)")
  vm.close()
}

func benchCoroutines() async throws {
  let c = try TempConnector(
    script: """
      local c = mlhost.connector { name = "co" }
      c:job("park", function(_, n)
        collectgarbage()
        local before = collectgarbage("count")
        local peak
        local items = {}
        for i = 1, n do items[i] = i end
        local t0 = mlhost.time.now()
        mlhost.each(items, n, function(i)
          if i == n then peak = collectgarbage("count") end
          mlhost.sleep(0.2)
        end)
        return (peak - before) * 1024 / n, mlhost.time.now() - t0
      end)
      c:job("spin", function(_, n)
        local items = {}
        for i = 1, n do items[i] = i end
        local t0 = os.clock()
        mlhost.each(items, n, function() for _ = 1, 10 do mlhost.sleep(0) end end)
        return os.clock() - t0
      end)
      return c
      """)
  defer { c.remove() }
  let version = try await c.load()
  let n = 10_000
  var perCo: [Double] = []
  var rates: [Double] = []
  let rssBefore = residentBytes()
  var rssDelta = 0
  for _ in 0..<5 {
    async let parked = version.run(job: "park", input: .integer(Int64(n)))
    try await Task.sleep(nanoseconds: 150_000_000)
    rssDelta = max(rssDelta, residentBytes() - rssBefore)
    guard case .succeeded(let r) = await parked, case .number(let bytes) = r[0] else { fatalError("park failed") }
    perCo.append(bytes)
    guard case .succeeded(let s) = await version.run(job: "spin", input: .integer(Int64(n))), case .number(let t) = s[0]
    else { fatalError("spin failed") }
    rates.append(Double(n * 10) / t)
  }
  print(
    "coroutines: \(n) suspended at once: \(fmt(median(perCo), 0)) bytes of Lua memory each (goal < 4096); "
      + "process RSS grew \(rssDelta / n) bytes per coroutine at most")
  print("coroutines: resume rate \(fmt(median(rates) / 1e6, 2)) M suspend/resume cycles per CPU-second")
  await version.retire(grace: 0)
}

func benchReload() async throws {
  func version(_ i: Int) -> String {
    "local c = mlhost.connector { name = 'live' }\nc:job('v', function() return \(i) end)\nreturn c\n"
  }
  let c = try TempConnector(script: version(0))
  defer { c.remove() }
  let host = try await c.host(options: HostOptions(grace: 1, watch: true), logger: quiet)
  var latencies: [Double] = []
  for i in 1...15 {
    try await Task.sleep(nanoseconds: 100_000_000)
    let t0 = Date()
    try c.rewrite(version(i))
    while await host.reloadCount < i { try await Task.sleep(nanoseconds: 200_000) }
    latencies.append(Date().timeIntervalSince(t0) * 1000)
  }
  await host.shutdown()
  print(
    "reload: file write → new version live: median \(fmt(median(latencies))) ms, max \(fmt(latencies.max()!)) ms "
      + "(includes the watcher's 20 ms quiet period; goal < 100 ms)")
}

func residentBytes() -> Int {
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
  return (text.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// No-op jobs through the whole path: queue → claim → coroutine → audit row → finish.
func benchDispatch() async throws {
  let c = try TempConnector(
    script: """
      local c = mlhost.connector { name = "noop" }
      c:handler("n", function(rec) return rec:unchanged() end)
      c:job("noop", function(job) job:record("n", job.id, true) end)
      return c
      """)
  defer { c.remove() }
  let n = 20_000
  var rates: [Double] = []
  for round in 0..<3 {
    let store = try SQLiteStore(directory: c.directory.appendingPathComponent("state-\(round)"))
    var options = HostOptions(grace: 5, watch: false, concurrency: 128)
    options.pollInterval = 0.01
    let host = ConnectorHost(store: store, logger: quiet, options: options)
    try await host.start([c.source()])
    try await withThrowingTaskGroup(of: Void.self) { group in
      for chunk in 0..<8 {
        group.addTask {
          for _ in 0..<(n / 8) {
            _ = try await store.enqueue(NewJob(connector: "noop", job: "noop", trigger: .manual, runAt: 0))
          }
          _ = chunk
        }
      }
      try await group.waitForAll()
    }
    let t0 = Date()
    let dispatcher = Task { await host.runDispatcher() }
    while try await store.stats().jobsByState["succeeded", default: 0] < n {
      try await Task.sleep(nanoseconds: 20_000_000)
    }
    rates.append(Double(n) / Date().timeIntervalSince(t0))
    dispatcher.cancel()
    let records = try await store.stats().recordsByOutcome["unchanged", default: 0]
    precondition(records == n, "expected \(n) audit rows, got \(records)")
    await host.shutdown()
  }
  print(
    "dispatch: \(n) no-op jobs (claim → coroutine → audit row → finish, SQLite WAL, fsync on commit): "
      + "median \(fmt(median(rates), 0)) jobs/s (rounds: \(rates.map { fmt($0, 0) }.joined(separator: ", "))); goal ≥ 5000"
  )
}

/// A bare Hummingbird handler that answers 200: the baseline the webhook ingest benchmark compares with.
func serveBare(port: Int) async throws {
  let router = Router()
  router.post("/hooks/{connector}/{name}") { request, _ -> Response in
    var request = request
    _ = try await request.collectBody(upTo: 1 << 20)
    return Response(status: .ok)
  }
  let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)), logger: quiet)
  try await app.runService()
}

/// Answers every GET after 20 ms, in a process of its own so its CPU is not counted as the client's. Prints
/// its port on the first line.
func serveSlow() async throws {
  let router = Router()
  router.get("/item/{n}") { _, _ -> Response in
    try await Task.sleep(nanoseconds: 20_000_000)
    return Response(
      status: .ok, headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(string: #"{"ok":true}"#)))
  }
  let app = Application(
    router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), backlog: 1024),
    onServerRunning: { FileHandle.standardOutput.write(Data("\($0.localAddress?.port ?? 0)\n".utf8)) }, logger: quiet)
  try await app.runService()
}

func cpuSeconds(_ who: Int32 = RUSAGE_SELF.rawValue) -> Double {
  var usage = rusage()
  getrusage(who, &usage)
  return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    / 1e6
}

/// 2,000 GETs from one VM to a server that takes 20 ms each: one at a time, then 50 at a time.
func benchHTTP() async throws {
  let server = Process()
  server.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
  server.arguments = ["serve-slow"]
  let pipe = Pipe()
  server.standardOutput = pipe
  try server.run()
  defer {
    server.terminate()
    server.waitUntilExit()
  }
  var line = Data()
  while !line.contains(UInt8(ascii: "\n")) { line += pipe.fileHandleForReading.availableData }
  let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
  let n = 2000
  func run(_ width: Int) async throws -> (seconds: Double, cpu: Double) {
    let cpu0 = cpuSeconds()
    let t0 = Date()
    let outcome = try await runJob(
      """
      local n = {}
      for i = 1, \(n) do n[i] = i end
      local ok = mlhost.each(n, \(width), function(i)
        return mlhost.http.request { url = "http://127.0.0.1:\(port)/item/" .. i }.status == 200
      end)
      for _, v in ipairs(ok) do assert(v) end
      """)
    if let e = outcome.error { throw e }
    return (Date().timeIntervalSince(t0), cpuSeconds() - cpu0)
  }
  _ = try await run(50)  // warm-up: connections, code paths
  let sequential = try await run(1)
  var concurrent: [(seconds: Double, cpu: Double)] = []
  for _ in 0..<3 { concurrent.append(try await run(50)) }
  let best = median(concurrent.map(\.seconds))
  let cpuPer1000 = median(concurrent.map(\.cpu)) / Double(n) * 1000
  print(
    "http: \(n) GETs, 20 ms server latency, one VM: sequential \(fmt(sequential.seconds, 2)) s "
      + "(\(fmt(sequential.cpu / Double(n) * 1000, 3)) CPU s/1000 req); 50-way median \(fmt(best, 2)) s "
      + "(rounds: \(concurrent.map { fmt($0.seconds, 2) }.joined(separator: ", ")); \(fmt(cpuPer1000, 3)) CPU s/1000 req); "
      + "speed-up \(fmt(sequential.seconds / best, 1))×; goal ≥ 20×")
}

/// One `mlhost run connectors/x3_shopify.lua --once` (the release binary beside this one) against a fresh
/// in-process sandbox; answers seconds and invoices created, and the sandbox for its counters.
func syncOnce(orders: Int, latency: Double, x3Limit: Double = 0, settings: [String: String] = [:]) async throws
  -> (seconds: Double, invoices: Int, x3Requests: Int, hostCPU: Double, sandboxCPU: Double)
{
  var options = Sandbox.Options()
  options.orders = orders
  options.inject(Faults(latency: latency))
  // A Shopify Plus store: 20,000-point bucket restored at 1,000 points/s.
  options.shopify.bucketSize = 20_000
  options.shopify.restoreRate = 1000
  options.x3.rateLimit = x3Limit
  let sandbox = try await Sandbox.start(options, logger: quiet)
  defer { sandbox.stop() }
  let state = FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-bench-sync-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(at: state) }
  let vault = try CredentialVault(directory: state)
  for c in sandbox.credentials() { try vault.set(c) }
  let p = Process()
  p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
    "mlhost")
  p.arguments =
    [
      "run", "connectors/x3_shopify.lua", "--once", "--state", state.path, "--webhook-port", "0", "--admin-port", "0",
      "--log-level", "warning",
    ]
    + sandbox.settings(for: ["shopify", "x3"]).merging(settings) { _, b in b }.flatMap {
      ["--set", "\($0.key)=\($0.value)"]
    }
  p.standardOutput = FileHandle.nullDevice
  p.standardError = FileHandle.nullDevice
  let x3Before = sandbox.x3.requests
  let t0 = Date()
  let children0 = cpuSeconds(RUSAGE_CHILDREN.rawValue)
  let self0 = cpuSeconds()
  try p.run()
  while p.isRunning { try await Task.sleep(nanoseconds: 20_000_000) }
  let seconds = Date().timeIntervalSince(t0)
  let hostCPU = cpuSeconds(RUSAGE_CHILDREN.rawValue) - children0
  let sandboxCPU = cpuSeconds() - self0
  guard p.terminationStatus == 0 else {
    throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "mlhost exited \(p.terminationStatus)"])
  }
  return (seconds, sandbox.x3.rows("SINVOICE").count, sandbox.x3.requests - x3Before, hostCPU, sandboxCPU)
}

/// Shopify → X3 order sync at 20 ms per API call: default concurrency vs one order at a time, and a run held to
/// an X3 rate limit.
func benchSync() async throws {
  let latency = 0.020
  let sequential = try await syncOnce(orders: 300, latency: latency, settings: ["concurrency": "1"])
  var concurrent: [(seconds: Double, invoices: Int, x3Requests: Int, hostCPU: Double, sandboxCPU: Double)] = []
  for _ in 0..<2 { concurrent.append(try await syncOnce(orders: 5000, latency: latency)) }
  let seqRate = Double(sequential.invoices) / sequential.seconds
  let rates = concurrent.map { Double($0.invoices) / $0.seconds }
  print(
    "sync: 5,000 Shopify orders → X3 invoices, 20 ms per API call: default concurrency "
      + "\(rates.map { fmt($0, 0) }.joined(separator: ", ")) invoices/s (\(concurrent.map { fmt($0.seconds, 1) }.joined(separator: ", ")) s, "
      + "\(concurrent[0].invoices) invoices); concurrency 1: \(fmt(seqRate, 1)) invoices/s over 300 orders; "
      + "speed-up \(fmt(median(rates) / seqRate, 1))×; goal ≥ 20×. CPU per 1,000 invoices: mlhost "
      + "\(fmt(concurrent[0].hostCPU / Double(concurrent[0].invoices) * 1000, 2)) s, the simulated systems "
      + "\(fmt(concurrent[0].sandboxCPU / Double(concurrent[0].invoices) * 1000, 2)) s (same 2 cores)")
  let graph = try await syncOnce(
    orders: 5000, latency: latency, settings: ["x3.api": "graphql", "x3.credential": "x3_app"])
  print(
    "sync over X3's GraphQL API (connected-app JWT), same 5,000 orders: \(fmt(Double(graph.invoices) / graph.seconds, 0)) "
      + "invoices/s (\(fmt(graph.seconds, 1)) s, \(graph.invoices) invoices), \(fmt(Double(graph.invoices) / graph.seconds / median(rates) * 100, 0)) % "
      + "of the REST run; CPU per 1,000 invoices: mlhost \(fmt(graph.hostCPU / Double(graph.invoices) * 1000, 2)) s, "
      + "the simulated systems \(fmt(graph.sandboxCPU / Double(graph.invoices) * 1000, 2)) s")
  let limit = 150.0
  let limited = try await syncOnce(
    orders: 1500, latency: latency, x3Limit: limit, settings: ["x3.rate": "\(Int(limit))"])
  let achieved = Double(limited.x3Requests) / limited.seconds
  print(
    "sync under an X3 limit of \(Int(limit)) requests/s (connector told x3.rate = \(Int(limit))): 1,500 orders in "
      + "\(fmt(limited.seconds, 1)) s, \(fmt(achieved, 0)) X3 requests/s = \(fmt(100 * achieved / limit, 0)) % of the limit, "
      + "\(fmt(Double(limited.invoices) / limited.seconds, 1)) invoices/s; goal ≥ 90 %")
}

let benches: [(String, () async throws -> Void)] = [
  ("calls", benchCalls), ("json", benchJSON), ("coroutines", benchCoroutines), ("reload", benchReload),
  ("dispatch", benchDispatch), ("http", benchHTTP), ("sync", benchSync), ("budget", benchBudget),
  ("woo", benchWoo),
  ("adobe", benchAdobe),
]
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "serve-bare", arguments.count == 2, let port = Int(arguments[1]) {
  try await serveBare(port: port)
} else if arguments.first == "serve-slow" {
  try await serveSlow()
} else {
  let wanted = Set(arguments)
  for (name, bench) in benches where wanted.isEmpty || wanted.contains(name) {
    try await bench()
  }
}
