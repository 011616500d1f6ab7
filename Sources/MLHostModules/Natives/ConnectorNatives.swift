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

  static func install(_ L: LuaState) {
    L.newMetatable(metatableName)
    L.newTable()
    for m in all {
      L.push(native: m.fn)
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

private let connectorNative: LuaNative = { raw in
  let L = LuaState(raw!)
  let vm = LuaVM.of(L)
  guard L.type(at: 1) == .table else {
    return L.argError(1, "connector", "a table {name = ..., settings = schema} expected")
  }
  let spec: LuaValue
  do { spec = try L.value(at: 1) } catch { return L.argError(1, "connector", "\(error)") }
  guard vm.services.definition == nil else {
    return L.raise("a script declares one connector; this one already has '\(vm.services.definition!.name)'")
  }
  guard let name = spec["name"].stringValue, isName(name) else {
    return L.raise("connector name must be letters, digits, '_' or '-' (up to 64)")
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
      return NativeStatus.raise
    }
  } catch let e as SettingsError {
    return L.raise("invalid settings schema:\n  " + e.problems.joined(separator: "\n  "))
  } catch {
    return L.raise("\(error)")
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
  settings.push(L)
  L.setField(-2, "settings")
  L.pushMetatable(named: ConnectorMethods.metatableName)
  L.setMetatable(-2)
  return 1
}

extension SettingsSchema.Value {
  func push(_ L: LuaState) {
    switch self {
    case .plain(let v): L.push(v)
    case .decimal(let d): d.push(L)
    case .list(let items):
      L.newTable(array: Int32(items.count))
      for (i, item) in items.enumerated() {
        item.push(L)
        L.rawSet(-2, Int64(i + 1))
      }
    case .table(let entries):
      L.newTable(hash: Int32(entries.count))
      for (k, v) in entries {
        v.push(L)
        L.setField(-2, k)
      }
    case .record(let entries, let declared, let path):
      L.newTable(hash: Int32(entries.count))
      for (k, v) in entries {
        v.push(L)
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
      L.push(native: undeclaredSettingNative)
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
private let undeclaredSettingNative: LuaNative = { raw in
  let L = LuaState(raw!)
  let vm = LuaVM.of(L)
  guard L.getMetatable(1) else { return 0 }
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
    return 1
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
  return L.raise("\(shown) is not a declared setting (\(known))")
}

/// Checks `self`, a job name at `nameIndex` and a function at `fnIndex`; records the job. Returns NativeStatus.raise or 0.
private func declare(_ L: LuaState, _ method: String, nameIndex: Int32, fnIndex: Int32, schedule: ScheduleSpec?)
  -> Int32
{
  let vm = LuaVM.of(L)
  guard L.userdata(1, named: ConnectorMethods.metatableName) != nil || L.type(at: 1) == .table,
    var def = vm.services.definition
  else { return L.raise("call it as connector:\(method)(...)") }
  guard let name = L.string(at: nameIndex), isName(name) else {
    return L.argError(nameIndex - 1, method, "a job name of letters, digits, '_', '-', '.' or '/' expected")
  }
  guard L.type(at: fnIndex) == .function else {
    return L.argError(fnIndex - 1, method, "function expected, got \(L.typeName(at: fnIndex))")
  }
  if let existing = def.jobs[name] { return L.raise("job '\(name)' is already declared at \(existing.declaredAt)") }
  let at = L.callerPosition(level: 1).map { "\($0.file):\($0.line)" } ?? "?"
  L.pushValue(at: fnIndex)
  def.jobs[name] = JobDeclaration(name: name, schedule: schedule, declaredAt: at, functionRef: L.ref())
  def.jobOrder.append(name)
  vm.services.definition = def
  return 0
}

private let jobMethod: LuaNative = { raw in declare(LuaState(raw!), "job", nameIndex: 2, fnIndex: 3, schedule: nil) }

/// A year: longer intervals are cron schedules.
private let maxInterval = 366.0 * 86_400

private let everyMethod: LuaNative = { raw in
  let L = LuaState(raw!)
  var seconds: Double?
  if let n = L.number(at: 2, in: 1...maxInterval) {
    seconds = n
  } else if let s = L.string(at: 2) {
    seconds = DurationText.seconds(s).flatMap { (1...maxInterval).contains($0) ? $0 : nil }
  }
  guard let interval = seconds else {
    return L.argError(1, "every", "an interval from 1s to a year expected, like \"30s\", \"5m\" or \"1h30m\"")
  }
  return declare(L, "every", nameIndex: 3, fnIndex: 4, schedule: .every(seconds: interval))
}

private let cronMethod: LuaNative = { raw in
  let L = LuaState(raw!)
  guard let expression = L.string(at: 2) else { return L.argError(1, "cron", "a cron expression expected") }
  var zone = "UTC"
  if L.type(at: 5) == .table {
    L.push("tz")
    L.rawGet(5)
    zone = L.string(at: -1) ?? "UTC"
    L.pop()
  }
  do {
    return declare(L, "cron", nameIndex: 3, fnIndex: 4, schedule: .cron(try CronSchedule(expression, zone: zone)))
  } catch {
    return L.raise("\(error)")
  }
}

private let webhookMethod: LuaNative = { raw in
  let L = LuaState(raw!)
  let systems = WebhookDeclaration.System.allCases.map(\.rawValue)
  guard let s = L.string(at: 2), let system = WebhookDeclaration.System(rawValue: s) else {
    return L.argError(1, "on_webhook", "system must be one of \(systems.joined(separator: ", "))")
  }
  guard let topic = L.string(at: 3), !topic.isEmpty, topic.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
    return L.argError(2, "on_webhook", "a topic such as \"orders/create\" expected")
  }
  var secret: String?
  var header: String?
  var name: String?
  if L.type(at: 5) == .table {
    if let refused = L.refuseUnknownOptions(at: 5, native: "on_webhook", known: ["secret", "header", "name"]) {
      return refused
    }
    let opts: LuaValue
    do { opts = try L.value(at: 5) } catch { return L.argError(4, "on_webhook", "\(error)") }
    secret = opts["secret"].stringValue
    header = opts["header"].stringValue
    name = opts["name"].stringValue
  } else if !L.isNoneOrNil(5) {
    return L.argError(4, "on_webhook", "an options table expected, got \(L.typeName(at: 5))")
  }
  let route = name ?? String(topic.map { $0 == "/" || $0 == "." ? "_" : $0 })
  if system == .hmac && header == nil {
    return L.argError(4, "on_webhook", "the hmac preset needs opts.header, the header that carries the signature")
  }
  let job = "webhook.\(system.rawValue).\(topic)"
  L.push(job)
  L.insert(at: 3)  // the job name goes where declare expects it; topic shifts right
  let status = declare(L, "on_webhook", nameIndex: 3, fnIndex: 5, schedule: nil)
  guard status == 0 else { return status }
  let vm = LuaVM.of(L)
  vm.services.definition?.webhooks.append(
    WebhookDeclaration(system: system, topic: topic, name: route, job: job, secret: secret, header: header))
  return 0
}

private let handlerMethod: LuaNative = { raw in
  let L = LuaState(raw!)
  let vm = LuaVM.of(L)
  guard var def = vm.services.definition else { return L.raise("call it as connector:handler(kind, fn)") }
  guard let kind = L.string(at: 2), isName(kind) else {
    return L.argError(1, "handler", "a record kind of letters, digits, '_', '-', '.' or '/' expected")
  }
  guard L.type(at: 3) == .function else { return L.argError(2, "handler", "function expected") }
  guard def.handlers[kind] == nil else { return L.raise("a handler for '\(kind)' is already declared") }
  L.pushValue(at: 3)
  def.handlers[kind] = L.ref()
  vm.services.definition = def
  return 0
}
