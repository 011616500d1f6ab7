import Foundation
import MLHostCore
import MLHostLua

/// What a VM's scripts get besides Lua's safe libraries, supplied by the layer that owns the natives: the `mlhost`
/// namespace, the `print` global, and a last step run once the namespace and `require` are in place.
public struct VMEnvironment: Sendable {
  public var modules: [NativeModule]
  public var print: NativeBody
  public var finish: @Sendable (isolated LuaVM) throws -> Void

  public init(
    modules: [NativeModule], print: @escaping NativeBody, finish: @escaping @Sendable (isolated LuaVM) throws -> Void
  ) {
    self.modules = modules
    self.print = print
    self.finish = finish
  }
}

/// The environment scripts run in: Lua's safe libraries, and replacements for the parts that reach outside.
extension LuaVM {
  /// Standard libraries opened. `io`, `debug` and `package` are never opened.
  private static let libraries: [LuaLibrary] = [.base, .coroutine, .table, .string, .math, .utf8, .os]
  private static let removedGlobals = ["dofile", "loadfile", "load", "collectgarbage", "print", "require"]
  private static let keptOS: Set<String> = ["time", "clock", "date", "difftime"]

  package func installSandbox(_ environment: VMEnvironment) throws {
    for library in Self.libraries { L.open(library) }
    L.installGuards()
    // The string metatable is shared by every string of the VM, the host's own Lua included: scripts may not
    // reach it through getmetatable("").
    L.push("")
    if L.getMetatable(-1) {
      L.lockMetatable()
      L.pop()
    }
    L.pop()
    for name in Self.removedGlobals {
      L.pushNil()
      L.setGlobal(name)
    }
    pruneTable(global: "os", keep: Self.keptOS)
    // string.dump would hand out bytecode, which nothing may load back.
    L.getGlobal("string")
    L.pushNil()
    L.setField(-2, "dump")
    L.pop()

    L.newTable()  // the module cache, shared by require and the namespace
    let loaded = L.top
    installNamespace(loaded: loaded, modules: environment.modules)
    push(native: safeLoad)
    L.setGlobal("load")
    push(native: safeCollectGarbage)
    L.setGlobal("collectgarbage")
    push(native: environment.print)
    L.setGlobal("print")
    try loadChunk(Data(Self.prelude.utf8), chunkName: "=mlhost.prelude")
    L.pushValue(at: loaded)
    push(native: findModule)
    try protectedCall(nargs: 2, nresults: 0)
    L.pop()  // loaded
    try environment.finish(self)
  }

  private func pruneTable(global: String, keep: Set<String>) {
    L.getGlobal(global)
    var names: [String] = []
    L.pushNil()
    while L.next(-2) {
      L.pop()
      if let k = L.string(at: -1), !keep.contains(k) { names.append(k) }
    }
    for k in names {
      L.pushNil()
      L.setField(-2, k)
    }
    L.pop()
  }

  /// `require` in Lua, so a module's top level runs in Lua (its errors never unwind through Swift); finding and
  /// compiling the file is native.
  static let prelude = """
    local loaded, find = ...
    local sentinel = {}
    function require(name)
      if type(name) ~= "string" then
        error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
      end
      local m = loaded[name]
      if m == sentinel then error("module '" .. name .. "' requires itself (a require loop)", 2) end
      if m ~= nil then return m end
      local chunk, path = find(name)
      loaded[name] = sentinel
      local ok, result = pcall(chunk, name, path)
      if not ok then
        loaded[name] = nil
        error(result, 0)
      end
      if result == nil then result = true end
      loaded[name] = result
      return result
    end
    """
}

private let findModule: NativeBody = { L, vm in
  guard let name = L.string(at: 1) else { throw HostError.argument(1, "require", "string expected") }
  let parts = name.split(separator: ".", omittingEmptySubsequences: false)
  guard !parts.isEmpty,
    parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" } })
  else { throw HostError.misuse("module name '\(name)' is not a dotted name of letters, digits, '_' and '-'") }
  if name == "mlhost" || name.hasPrefix("mlhost.") { throw HostError.misuse("module '\(name)' is not part of mlhost") }
  let relative = parts.joined(separator: "/")
  var tried: [String] = []
  let roots = [vm.modulePaths.connectorDirectory] + (vm.modulePaths.stdlibDirectory.map { [$0] } ?? [])
  for root in roots {
    for candidate in ["\(relative).lua", "\(relative)/init.lua"] {
      let url = root.appendingPathComponent(candidate)
      tried.append(ModulePaths.displayName(url))
      guard FileManager.default.fileExists(atPath: url.path) else { continue }
      do {
        try vm.loadFile(url, chunkName: ModulePaths.displayName(url), onto: L)
      } catch let error as LuaError {
        throw HostError.misuse(error.message)
      } catch {
        throw HostError.misuse("\(error)")
      }
      L.push(ModulePaths.displayName(url))
      return .values(2)
    }
  }
  throw HostError.misuse("module '\(name)' not found; looked in:\n\t" + tried.joined(separator: "\n\t"))
}

private let safeLoad: NativeBody = { L, _ in
  guard let chunk = L.bytes(at: 1), L.type(at: 1) == .string else {
    throw HostError.argument(1, "load", "a string of Lua source expected (functions and binary chunks are refused)")
  }
  if let mode = L.string(at: 3), mode != "t" {
    throw HostError.argument(3, "load", "only text chunks load here (mode \"t\")")
  }
  let name = L.string(at: 2) ?? "=(load)"
  guard L.load(chunk, name: name) == .ok else {
    L.pushNil()
    L.insert(at: -2)
    return .values(2)
  }
  if L.type(at: 4) != .none {
    L.pushValue(at: 4)
    if !L.setUpvalue(-2, 1) { L.pop() }
  }
  return .one
}

private let allowedGCOptions: Set<String> = ["count", "collect", "step", "isrunning"]

private let safeCollectGarbage: NativeBody = { L, _ in
  let option = L.string(at: 1) ?? "collect"
  guard allowedGCOptions.contains(option) else {
    throw HostError.argument(
      1, "collectgarbage", "option '\(option)' is not allowed here; use count, collect or step")
  }
  switch option {
  case "count":
    L.push(Double(L.memoryKB()))
  case "isrunning":
    L.push(true)
  default:
    L.collectGarbage()
    L.push(0)
  }
  return .one
}
