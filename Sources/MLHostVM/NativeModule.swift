import MLHostLua

/// A native function and its documentation: the one declaration behind the binding, the reference docs and the
/// LuaLS stub file.
public struct NativeFunction: Sendable {
  public struct Param: Sendable {
    public let name: String
    public let type: String
    public let doc: String
  }

  public let name: String
  public let summary: String
  public let params: [Param]
  /// LuaLS return types with their meaning, e.g. `("string?", "the digest")`.
  public let returns: [(type: String, doc: String)]
  package let native: TypedNative

  package init(
    _ name: String, _ summary: String, params: [(String, String, String)] = [],
    returns: [(String, String)] = [], _ body: @escaping NativeBody
  ) {
    self.name = name
    self.summary = summary
    self.params = params.map { Param(name: $0.0, type: $0.1, doc: $0.2) }
    self.returns = returns.map { (type: $0.0, doc: $0.1) }
    native = TypedNative(body)
  }
}

/// A constant or value field of a module (`mlhost.json.null`), pushed by `push`.
public struct NativeField: Sendable {
  public let name: String
  public let type: String
  public let summary: String
  let push: @Sendable (isolated LuaVM) -> Void

  package init(name: String, type: String, summary: String, push: @escaping @Sendable (isolated LuaVM) -> Void) {
    self.name = name
    self.type = type
    self.summary = summary
    self.push = push
  }
}

/// One part of the `mlhost` namespace, loadable as `require "mlhost.<name>"`.
public struct NativeModule: Sendable {
  public let name: String
  public let summary: String
  public let functions: [NativeFunction]
  public let fields: [NativeField]
  /// Runs once per VM before the functions are bound (metatables, upvalue state).
  let prepare: (@Sendable (isolated LuaVM) -> Void)?

  package init(
    _ name: String, _ summary: String, functions: [NativeFunction], fields: [NativeField] = [],
    prepare: (@Sendable (isolated LuaVM) -> Void)? = nil
  ) {
    self.name = name
    self.summary = summary
    self.functions = functions
    self.fields = fields
    self.prepare = prepare
  }
}

extension LuaVM {
  /// Builds the read-only `mlhost` namespace from the module list and registers each part for `require`.
  func installNamespace(loaded: Int32, modules: [NativeModule]) {
    let L = self.L
    let loaded = L.absIndex(loaded)
    L.newTable()  // the real namespace table
    let ns = L.top
    for module in modules {
      module.prepare?(self)
      L.newTable(hash: Int32(module.functions.count + module.fields.count))
      for f in module.functions {
        push(native: f.native)
        L.setField(-2, f.name)
      }
      for field in module.fields {
        field.push(self)
        L.setField(-2, field.name)
      }
      if module.name == "core" {
        // Core functions live directly on `mlhost`.
        copyFields(from: -1, to: ns)
        L.pop()
        continue
      }
      makeReadOnly(name: "mlhost.\(module.name)")
      L.pushValue(at: -1)
      L.setField(loaded, "mlhost.\(module.name)")
      L.setField(ns, module.name)
    }
    L.pushValue(at: ns)
    makeReadOnly(name: "mlhost")
    L.pushValue(at: -1)
    L.setField(loaded, "mlhost")
    L.setGlobal("mlhost")
    L.pop()  // the real table
  }

  private func copyFields(from src: Int32, to dst: Int32) {
    let src = L.absIndex(src)
    L.pushNil()
    while L.next(src) {
      L.pushValue(at: -2)
      L.insert(at: -2)
      L.rawSet(dst)
    }
  }

  /// Replaces the table on top with an empty proxy that reads through to it and refuses writes.
  func makeReadOnly(name: String) {
    L.newTable()  // proxy
    L.newTable(hash: 3)  // its metatable
    L.pushValue(at: -3)
    L.setField(-2, "__index")
    L.push(name)
    L.push(native: refuseWrite, upvalues: 1)
    L.setField(-2, "__newindex")
    L.lockMetatable()
    L.markReadOnly()
    L.setMetatable(-2)
    L.replace(at: -2)
  }
}

private let refuseWrite: LuaNative = { raw in
  let L = LuaState(raw!)
  let name = L.string(at: LuaState.upvalue(1)) ?? "mlhost"
  let key = L.string(at: 2) ?? L.typeName(at: 2)
  return L.raise("\(name) is read-only (cannot set '\(key)')")
}
