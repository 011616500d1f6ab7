import CLua
import CLuaBridge
import MLHostLua

extension NativeModule {
  static let json = NativeModule(
    "json",
    "JSON decode and encode. `null` decodes to `mlhost.json.null` (distinct from an absent key); `{}` and `[]` "
      + "stay apart through a round trip; integers keep all 64 bits; with `{decimals = true}` every non-integer "
      + "number decodes as an exact decimal (124.95 stays 124.95).",
    functions: [
      NativeFunction(
        "decode", "Parses `text`. Malformed input is the world's failure: it returns nil, \"malformed json\", details.",
        params: [("text", "string", "the JSON text"), ("options", "{decimals: boolean?}?", "decimals: exact decimals for non-integer numbers")],
        returns: [("any", "the value"), ("string?", "\"malformed json\" on failure"), ("{message: string, position: integer}?", "where and why")],
        decodeNative),
      NativeFunction(
        "encode", "Serialises `value`. Arrays are tables with keys 1..n (or marked with `json.array`); an empty "
          + "unmarked table encodes as `{}`. Functions, cycles, NaN and infinities are refused with an error.",
        params: [("value", "any", "")], returns: [("string", "")], encodeNative),
      NativeFunction("array", "Marks `t` (default: a new table) as an array, so that it encodes as `[]` when empty.",
        params: [("t", "table?", "")], returns: [("table", "t")], markArray),
      NativeFunction("object", "Marks `t` (default: a new table) as an object, so that it encodes as `{}` when empty.",
        params: [("t", "table?", "")], returns: [("table", "t")], markObject),
    ],
    fields: [
      NativeField(name: "null", type: "lightuserdata", summary: "The JSON null value.") { vm in
        lua_pushlightuserdata(vm.L.raw, JSONNull.pointer)
      }
    ],
    prepare: { vm in JSONNull.installMetatables(vm.L) })
}

private let decodeNative: mlh_native_fn = { raw in
  let L = LuaState(raw!)
  guard L.type(at: 1) == LUA_TSTRING, let bytes = L.bytes(at: 1) else {
    return L.argError(1, "decode", "string expected, got \(L.typeName(at: 1))")
  }
  var decimals = false
  if L.type(at: 2) == LUA_TTABLE {
    L.push("decimals")
    lua_rawget(L.raw, 2)
    decimals = L.bool(at: -1)
    L.pop()
  } else if !L.isNoneOrNil(2) {
    return L.argError(2, "decode", "options table expected")
  }
  let top = L.top
  var decoder = LuaJSONDecoder(L: L, bytes: bytes, decimals: decimals)
  do {
    try decoder.decodeDocument()
    return 1
  } catch let failure as LuaJSONDecoder.Failure {
    L.top = top
    L.pushNil()
    L.push("malformed json")
    L.push(["message": .text(failure.message), "position": .integer(Int64(failure.offset + 1))] as LuaValue)
    return 3
  } catch {
    L.top = top
    return L.raise("\(error)")
  }
}

private let encodeNative: mlh_native_fn = { raw in
  let L = LuaState(raw!)
  var encoder = LuaJSONEncoder(L: L)
  do {
    try encoder.encode(1)
  } catch let failure as LuaJSONEncoder.Failure {
    return L.raise("json.encode: " + failure.message)
  } catch {
    return L.raise("\(error)")
  }
  encoder.out.withUnsafeBytes { L.push(bytes: $0) }
  return 1
}

private func mark(_ raw: OpaquePointer?, _ shape: JSONNull.Shape) -> Int32 {
  let L = LuaState(raw!)
  if L.isNoneOrNil(1) {
    L.newTable()
  } else {
    guard L.type(at: 1) == LUA_TTABLE else { return L.argError(1, shape == .array ? "array" : "object", "table expected") }
    L.top = 1
  }
  JSONNull.mark(L, empty: shape)
  return 1
}

private let markArray: mlh_native_fn = { mark($0, .array) }
private let markObject: mlh_native_fn = { mark($0, .object) }
