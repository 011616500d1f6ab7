import MLHostCore
import MLHostLua
import MLHostVM

extension NativeFunction {
  static let connector = NativeFunction(
    "connector",
    "Declares this script's connector. `spec.settings` is its settings schema; the deployment's settings are "
      + "validated against it here, so the returned connector's `settings` holds checked values with defaults "
      + "(durations in seconds, decimals exact). A script declares one connector and returns it.",
    params: [("spec", "{name: string, description: string?, settings: table?}", "")],
    returns: [("mlhost.Connector", "")], connectorNative)
}

/// The methods of a connector object, documented like natives.
package enum ConnectorMethods {
  package static let metatableName = "mlhost.Connector"
  static let all: [NativeFunction] = [
    NativeFunction(
      "job", "Declares a job that runs when triggered (`mlhost trigger`, a replay or another job).",
      params: [
        ("name", "string", "unique in this connector"), ("fn", "fun(job: mlhost.Job, input: any)", "the job body"),
      ],
      jobMethod),
    NativeFunction(
      "every", "Declares a job that runs every `interval` (\"30s\", \"5m\", \"1h30m\" or seconds).",
      params: [
        ("interval", "string|number", ""), ("name", "string", ""), ("fn", "fun(job: mlhost.Job, input: any)", ""),
      ],
      everyMethod),
    NativeFunction(
      "cron", "Declares a job on a 5-field cron expression or @hourly/@daily/@weekly/@monthly, in `opts.tz`.",
      params: [
        ("expression", "string", ""), ("name", "string", ""), ("fn", "fun(job: mlhost.Job, input: any)", ""),
        ("opts", "{tz: string?}?", "time zone, default UTC"),
      ], cronMethod),
    NativeFunction(
      "on_webhook",
      "Declares the job that handles deliveries of `topic` from `system` (shopify, woocommerce, adobe_commerce, adobe_io — Adobe I/O Events, whose "
        + "`GET ?challenge=` handshake the host answers — or "
        + "hmac for any sender that signs the body with HMAC-SHA256 in `opts.header`). `opts.secret` names the "
        + "credential holding the signing secret (default `<connector>.<system>`). Deliveries arrive at "
        + "`POST /hooks/<connector>/<opts.name or the topic with / and . as _>`; the signature is checked by the "
        + "host before anything is queued. The job receives `{topic, delivery_id, system, payload, headers}`.",
      params: [
        ("system", "string", ""), ("topic", "string", ""), ("fn", "fun(job: mlhost.Job, delivery: table)", ""),
        ("opts", "{secret: string?, header: string?, name: string?}?", ""),
      ], webhookMethod),
    NativeFunction(
      "handler",
      "Declares how one record of `kind` is processed: `fn(rec, input)`, called by `job:record(kind, key, input)` "
        + "and by replays of stored records. It reports what it did with `rec:created/updated/unchanged(system, id, "
        + "details)`, or `rec:reject(reason)` when a human must act.",
      params: [
        ("kind", "string", "the record type, e.g. \"shopify.order\""),
        ("fn", "fun(rec: mlhost.Record, input: any)", ""),
      ], handlerMethod),
  ]

  static func install(_ vm: isolated LuaVM) {
    let L = vm.L
    L.newMetatable(metatableName)
    L.newTable()
    for m in all {
      vm.push(native: m.native)
      L.setField(-2, m.name)
    }
    L.setField(-2, "__index")
    L.push("connector")
    L.setField(-2, "__name")
    L.lockMetatable()
    L.pop()
  }
}

private func isName(_ s: String) -> Bool {
  !s.isEmpty && s.count <= 64
    && s.allSatisfy { ($0.isLetter && $0.isASCII) || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." || $0 == "/" }
}

private let connectorNative: NativeBody = { L, vm in
  guard L.type(at: 1) == .table else {
    throw HostError.argument(1, "connector", "a table {name = ..., settings = schema} expected")
  }
  let spec: LuaValue
  do { spec = try L.value(at: 1) } catch { throw HostError.argument(1, "connector", "\(error)") }
  guard vm.services.definition == nil else {
    throw HostError.misuse("a script declares one connector; this one already has '\(vm.services.definition!.name)'")
  }
  guard let name = spec["name"].stringValue, isName(name) else {
    throw HostError.misuse("connector name must be letters, digits, '_' or '-' (up to 64)")
  }
  let settings: SettingsSchema.Value
  let found: SettingsSchema.Validation
  do {
    let schema = try SettingsSchema(spec["settings"].isNil ? .map([:]) : spec["settings"])
    do {
      (settings, found) = try schema.validated(vm.services.settings, base: vm.services.settingsBase)
    } catch let e as SettingsError {
      // Each problem points at the settings file's line (or the --set that gave it), where the fix goes.
      L.push(e.problems.map { vm.services.settingsLocation(of: $0) + $0 }.joined(separator: "\n"))
      return .raised
    }
  } catch let e as SettingsError {
    throw HostError.misuse("invalid settings schema:\n  " + e.problems.joined(separator: "\n  "))
  } catch {
    throw HostError.misuse("\(error)")
  }
  // A CSV mapping table is read here, at load: a change to it reloads the connector like its settings file.
  for file in found.files where !vm.loadedFiles.contains(file) { vm.loadedFiles.append(file) }
  let services = vm.services
  var definition = ConnectorDefinition(
    name: name, description: spec["description"].stringValue ?? "", settings: settings)
  definition.credentials = found.credentials.map {
    SettingsCredential(path: $0.path, name: $0.name, location: services.settingsLocation(of: "\($0.path): "))
  }
  vm.services.definition = definition
  L.newTable(hash: 3)
  L.push(name)
  L.setField(-2, "name")
  settings.push(L, in: vm)
  L.setField(-2, "settings")
  L.pushMetatable(named: ConnectorMethods.metatableName)
  L.setMetatable(-2)
  return .one
}

extension SettingsSchema.Value {
  func push(_ L: LuaState, in vm: isolated LuaVM) {
    switch self {
    case .plain(let v): L.push(v)
    case .decimal(let d): d.push(L)
    case .list(let items):
      L.newTable(array: Int32(items.count))
      for (i, item) in items.enumerated() {
        item.push(L, in: vm)
        L.rawSet(-2, Int64(i + 1))
      }
    case .table(let entries):
      L.newTable(hash: Int32(entries.count))
      for (k, v) in entries {
        v.push(L, in: vm)
        L.setField(-2, k)
      }
    case .record(let entries, let declared, let path):
      L.newTable(hash: Int32(entries.count))
      for (k, v) in entries {
        v.push(L, in: vm)
        L.setField(-2, k)
      }
      // A hidden metatable that knows the declared keys: a misspelt `c.settings.vta` raises instead of nil.
      L.newTable(hash: 4)
      L.newTable(hash: Int32(declared.count))
      for k in declared {
        L.push(true)
        L.setField(-2, k)
      }
      L.setField(-2, "declared")
      L.push(path)
      L.setField(-2, "path")
      vm.push(native: undeclaredSetting)
      L.setField(-2, "__index")
      L.push(false)
      L.setField(-2, "__metatable")
      L.setMetatable(-2)
    }
  }
}

extension VMServices {
  /// `file:line: ` for a settings problem (`settings.x3.url: ...`): the line of its key in the settings file, or of
  /// the nearest table above it that the file has; `--set x3.url: ` when an override gave it.
  func settingsLocation(of problem: String) -> String {
    guard problem.hasPrefix("settings."), let colon = problem.firstIndex(of: ":") else { return "\(settingsSource): " }
    var path = String(problem[problem.index(problem.startIndex, offsetBy: 9)..<colon])
    if settingsOverrides.contains(path) { return "--set \(path): " }
    while !path.isEmpty {
      if let line = settingsLines[path] { return "\(settingsSource):\(line): " }
      // Up one level: `a.b[2].c` → `a.b[2]` → `a.b` → `a`.
      if path.hasSuffix("]"), let open = path.lastIndex(of: "[") {
        path = String(path[..<open])
      } else {
        path = path.lastIndex(of: ".").map { String(path[..<$0]) } ?? ""
      }
    }
    return "\(settingsSource): "
  }
}

/// `__index` of a settings record: a declared key that is unset answers nil; any other key is a mistake in the
/// script, raised at the line that read it. Modules in stdlib/ are generic clients that probe optional keys
/// (`settings.page_size or 30`): they get nil.
private let undeclaredSetting = TypedNative { L, vm in
  guard L.getMetatable(1) else { return .none }
  let key = L.string(at: 2)
  _ = L.getField(-1, "declared")
  var declared = false
  if let key {
    declared = L.getField(-1, key) != .nil_
    L.pop()
  }
  L.pop()
  if declared || vm.modulePaths.isStdlibCaller(L) {
    L.pushNil()
    return .one
  }
  _ = L.getField(-1, "path")
  let path = L.string(at: -1) ?? "settings"
  var names: [String] = []
  _ = L.getField(-2, "declared")
  L.pushNil()
  while L.next(-2) {
    if let k = L.string(at: -2) { names.append(k) }
    L.pop()
  }
  let known = names.isEmpty ? "it declares none" : "declared: " + names.sorted().joined(separator: ", ")
  let shown = key.map { "\(path).\($0)" } ?? "\(path)[\(L.typeName(at: 2))]"
  throw HostError.misuse("\(shown) is not a declared setting (\(known))")
}

/// Checks `self`, a job name at `nameIndex` and a function at `fnIndex`; records the job.
private func declare(
  _ L: LuaState, _ vm: isolated LuaVM, _ method: String, nameIndex: Int32, fnIndex: Int32, schedule: ScheduleSpec?
) throws -> NativeResult {
  guard L.userdata(1, named: ConnectorMethods.metatableName) != nil || L.type(at: 1) == .table,
    var def = vm.services.definition
  else { throw HostError.misuse("call it as connector:\(method)(...)") }
  guard let name = L.string(at: nameIndex), isName(name) else {
    throw HostError.argument(nameIndex - 1, method, "a job name of letters, digits, '_', '-', '.' or '/' expected")
  }
  guard L.type(at: fnIndex) == .function else {
    throw HostError.argument(fnIndex - 1, method, "function expected, got \(L.typeName(at: fnIndex))")
  }
  if let existing = def.jobs[name] {
    throw HostError.misuse("job '\(name)' is already declared at \(existing.declaredAt)")
  }
  let at = L.callerPosition(level: 1).map { "\($0.file):\($0.line)" } ?? "?"
  L.pushValue(at: fnIndex)
  def.jobs[name] = JobDeclaration(name: name, schedule: schedule, declaredAt: at, functionRef: L.ref())
  def.jobOrder.append(name)
  vm.services.definition = def
  return .none
}

private let jobMethod: NativeBody = { L, vm in
  try declare(L, vm, "job", nameIndex: 2, fnIndex: 3, schedule: nil)
}

/// A year: longer intervals are cron schedules.
private let maxInterval = 366.0 * 86_400

private let everyMethod: NativeBody = { L, vm in
  var seconds: Double?
  if let n = L.number(at: 2, in: 1...maxInterval) {
    seconds = n
  } else if let s = L.string(at: 2) {
    seconds = DurationText.seconds(s).flatMap { (1...maxInterval).contains($0) ? $0 : nil }
  }
  guard let interval = seconds else {
    throw HostError.argument(1, "every", "an interval from 1s to a year expected, like \"30s\", \"5m\" or \"1h30m\"")
  }
  return try declare(L, vm, "every", nameIndex: 3, fnIndex: 4, schedule: .every(seconds: interval))
}

private let cronMethod: NativeBody = { L, vm in
  guard let expression = L.string(at: 2) else { throw HostError.argument(1, "cron", "a cron expression expected") }
  let zone = L.type(at: 5) == .table ? try L.options(at: 5, native: "cron", as: CronOptions.self).tz : nil
  let schedule: CronSchedule
  do { schedule = try CronSchedule(expression, zone: zone ?? "UTC") } catch { throw HostError.misuse("\(error)") }
  return try declare(L, vm, "cron", nameIndex: 3, fnIndex: 4, schedule: .cron(schedule))
}

private let webhookMethod: NativeBody = { L, vm in
  let systems = WebhookDeclaration.System.allCases.map(\.rawValue)
  guard let s = L.string(at: 2), let system = WebhookDeclaration.System(rawValue: s) else {
    throw HostError.argument(1, "on_webhook", "system must be one of \(systems.joined(separator: ", "))")
  }
  guard let topic = L.string(at: 3), !topic.isEmpty, topic.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
    throw HostError.argument(2, "on_webhook", "a topic such as \"orders/create\" expected")
  }
  let opts = L.isNoneOrNil(5) ? WebhookOptions() : try L.options(at: 5, native: "on_webhook", as: WebhookOptions.self)
  let route = opts.name ?? String(topic.map { $0 == "/" || $0 == "." ? "_" : $0 })
  if system == .hmac && opts.header == nil {
    throw HostError.argument(
      4, "on_webhook", "the hmac preset needs opts.header, the header that carries the signature")
  }
  let job = "webhook.\(system.rawValue).\(topic)"
  L.push(job)
  L.insert(at: 3)  // the job name goes where declare expects it; topic shifts right
  _ = try declare(L, vm, "on_webhook", nameIndex: 3, fnIndex: 5, schedule: nil)
  vm.services.definition?.webhooks.append(
    WebhookDeclaration(system: system, topic: topic, name: route, job: job, secret: opts.secret, header: opts.header))
  return .none
}

private struct CronOptions: LuaOptions {
  let tz: String?

  init(from options: LuaOptionsReader) throws { tz = try options.string("tz") }
}

private struct WebhookOptions: LuaOptions {
  var secret: String?
  var header: String?
  var name: String?

  init() {}

  init(from options: LuaOptionsReader) throws {
    secret = try options.string("secret")
    header = try options.string("header")
    name = try options.string("name")
  }
}

private let handlerMethod: NativeBody = { L, vm in
  guard var def = vm.services.definition else { throw HostError.misuse("call it as connector:handler(kind, fn)") }
  guard let kind = L.string(at: 2), isName(kind) else {
    throw HostError.argument(1, "handler", "a record kind of letters, digits, '_', '-', '.' or '/' expected")
  }
  guard L.type(at: 3) == .function else { throw HostError.argument(2, "handler", "function expected") }
  guard def.handlers[kind] == nil else { throw HostError.misuse("a handler for '\(kind)' is already declared") }
  L.pushValue(at: 3)
  def.handlers[kind] = L.ref()
  vm.services.definition = def
  return .none
}
