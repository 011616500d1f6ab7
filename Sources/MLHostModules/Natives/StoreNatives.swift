import MLHostCore
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

private let getNative: NativeBody = { L, vm in
  guard let key = L.string(at: 1) else { throw HostError.argument(1, "get", "string key expected") }
  let (runtime, connector) = try vm.jobRuntime("mlhost.store.get")
  let store = runtime.store
  return try vm.suspend(L, "mlhost.store.get", start: { store.value(connector: connector, key: key, then: $0) }) {
    L, text in
    guard let text else {
      L.pushNil()
      return .one
    }
    L.push(text)
    let top = L.top
    var decoder = LuaJSONDecoder(L: L, bytes: L.bytes(at: -1)!, decimals: true)
    if (try? decoder.decodeDocument()) == nil {
      L.top = top
      L.pushNil()
    }
    L.remove(at: -2)  // the text
    return .one
  }
}

private let setNative: NativeBody = { L, vm in
  guard let key = L.string(at: 1) else { throw HostError.argument(1, "set", "string key expected") }
  let (runtime, connector) = try vm.jobRuntime("mlhost.store.set")
  var text: String?
  if !L.isNoneOrNil(2) {
    var encoder = LuaJSONEncoder(L: L)
    do { try encoder.encode(2) } catch let f as HostError {
      throw HostError.argument(2, "set", "value cannot be stored: \(f.detail)")
    }
    text = String(decoding: encoder.out, as: UTF8.self)
  }
  let store = runtime.store
  let value = text
  return try vm.suspend(
    L, "mlhost.store.set", start: { store.setValue(connector: connector, key: key, value: value, then: $0) }
  ) {
    _, _ in .none
  }
}
