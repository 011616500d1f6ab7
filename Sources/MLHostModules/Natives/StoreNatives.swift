import MLHostLua
import MLHostVM

extension NativeModule {
  static let store = NativeModule(
    "store",
    "Durable key/values of this connector, shared by all its jobs and kept across restarts and reloads (a VM's "
      + "globals are not). Values are anything JSON can hold; decimals come back exact. Both calls suspend the job "
      + "while the store works.",
    functions: [
      NativeFunction(
        "get", "The value stored under `key`, or nil.", params: [("key", "string", "")],
        returns: [("any", "")], getNative),
      NativeFunction(
        "set", "Stores `value` under `key` (nil deletes it).",
        params: [("key", "string", ""), ("value", "any", "")], setNative),
    ])
}

private let getNative: LuaNative = { raw in
  let L = LuaState(raw!)
  let vm = LuaVM.of(L)
  guard let key = L.string(at: 1) else { return L.argError(1, "get", "string key expected") }
  guard let (runtime, connector) = vm.jobRuntime(L, "mlhost.store.get") else { return NativeStatus.raise }
  let store = runtime.store
  return vm.suspend(L, "mlhost.store.get", { try await store.value(connector: connector, key: key) }) { L, text in
    guard let text else {
      L.pushNil()
      return 1
    }
    L.push(text)
    let top = L.top
    var decoder = LuaJSONDecoder(L: L, bytes: L.bytes(at: -1)!, decimals: true)
    if (try? decoder.decodeDocument()) == nil {
      L.top = top
      L.pushNil()
    }
    L.remove(at: -2)  // the text
    return 1
  }
}

private let setNative: LuaNative = { raw in
  let L = LuaState(raw!)
  let vm = LuaVM.of(L)
  guard let key = L.string(at: 1) else { return L.argError(1, "set", "string key expected") }
  guard let (runtime, connector) = vm.jobRuntime(L, "mlhost.store.set") else { return NativeStatus.raise }
  var text: String?
  if !L.isNoneOrNil(2) {
    var encoder = LuaJSONEncoder(L: L)
    do { try encoder.encode(2) } catch let f as LuaJSONEncoder.Failure {
      return L.argError(2, "set", "value cannot be stored: \(f.message)")
    } catch {
      return L.raise("\(error)")
    }
    text = String(decoding: encoder.out, as: UTF8.self)
  }
  let store = runtime.store
  let value = text
  return vm.suspend(L, "mlhost.store.set", { try await store.setValue(connector: connector, key: key, value: value) }) {
    _, _ in 0
  }
}
