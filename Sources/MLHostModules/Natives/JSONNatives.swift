import MLHostCore
import MLHostLua
import MLHostVM

extension NativeModule {
  static let json = NativeModule(
    "json",
    "JSON decode and encode. `null` decodes to `mlhost.json.null` (distinct from an absent key); `{}` and `[]` "
      + "stay apart through a round trip; integers keep all 64 bits; with `{decimals = true}` every non-integer "
      + "number decodes as an exact decimal (124.95 stays 124.95).",
    functions: [
      NativeFunction(
        "decode", "Parses `text`. Malformed input is the world's failure: it returns nil, \"malformed json\", details.",
        params: [
          ("text", "string", "the JSON text"),
          ("options", "{decimals: boolean?}?", "decimals: exact decimals for non-integer numbers"),
        ],
        returns: [
          ("any", "the value"), ("string?", "\"malformed json\" on failure"),
          ("{message: string, position: integer}?", "where and why"),
        ],
        decodeNative),
      NativeFunction(
        "encode",
        "Serialises `value`. Arrays are tables with keys 1..n (or marked with `json.array`); an empty "
          + "unmarked table encodes as `{}`. Functions, cycles, NaN and infinities are refused with an error.",
        params: [("value", "any", "")], returns: [("string", "")], encodeNative),
      NativeFunction(
        "array", "Marks `t` (default: a new table) as an array, so that it encodes as `[]` when empty.",
        params: [("t", "table?", "")], returns: [("table", "t")], markArray),
      NativeFunction(
        "object", "Marks `t` (default: a new table) as an object, so that it encodes as `{}` when empty.",
        params: [("t", "table?", "")], returns: [("table", "t")], markObject),
      NativeFunction(
        "ordered",
        "Marks `t` as an object whose members named in `keys` encode first, in that order, then the rest "
          + "(for APIs that apply fields in the order they arrive, as Sage 300 puts them to its views).",
        params: [("t", "table", "the object"), ("keys", "string[]", "member names, at most 256, each once")],
        returns: [("table", "t")], orderedNative),
    ],
    fields: [
      NativeField(name: "null", type: "lightuserdata", summary: "The JSON null value.") { vm in
        vm.L.push(lightUserdata: JSONNull.pointer)
      }
    ],
    prepare: { vm in JSONNull.installMetatables(vm.L) })
}

private let decodeNative: NativeBody = { L, _ in
  let bytes = try L.bytes(arg: 1, of: "decode")
  let decimals = L.isNoneOrNil(2) ? false : try L.options(at: 2, native: "decode", as: DecodeOptions.self).decimals
  let top = L.top
  var decoder = LuaJSONDecoder(L: L, bytes: bytes, decimals: decimals)
  do {
    try decoder.decodeDocument()
    return .one
  } catch let failure as LuaJSONDecoder.Failure {
    L.top = top
    L.pushNil()
    L.push("malformed json")
    L.push(["message": .text(failure.message), "position": .integer(Int64(failure.offset + 1))] as LuaValue)
    return .values(3)
  } catch {
    L.top = top
    throw HostError.misuse("\(error)")
  }
}

private let encodeNative: NativeBody = { L, _ in
  var encoder = LuaJSONEncoder(L: L)
  do { try encoder.encode(1) } catch let failure as HostError {
    throw HostError.misuse("json.encode: " + failure.detail)
  }
  encoder.out.withUnsafeBytes { L.push(bytes: $0) }
  return .one
}

private struct DecodeOptions: LuaOptions {
  let decimals: Bool

  init(from options: LuaOptionsReader) throws { decimals = try options.bool("decimals") ?? false }
}

private func mark(_ L: LuaState, _ shape: JSONNull.Shape) throws -> NativeResult {
  if L.isNoneOrNil(1) {
    L.newTable()
  } else {
    guard L.type(at: 1) == .table else {
      throw HostError.argument(1, shape == .array ? "array" : "object", "table expected")
    }
    L.top = 1
  }
  JSONNull.mark(L, empty: shape)
  return .one
}

private let markArray: NativeBody = { L, _ in try mark(L, .array) }
private let markObject: NativeBody = { L, _ in try mark(L, .object) }

private let orderedNative: NativeBody = { L, _ in
  try L.check(arg: 1, of: "ordered", is: .table)
  guard L.type(at: 2) == .table else {
    throw HostError.argument(2, "ordered", "array of member names expected, got \(L.typeName(at: 2))")
  }
  let n = L.rawLength(2)
  guard n <= 256 else { throw HostError.argument(2, "ordered", "at most 256 member names, got \(n)") }
  L.newTable()
  var seen: Set<String> = []
  for i in 1...max(n, 1) where i <= n {
    _ = L.rawGet(2, Int64(i))
    guard L.type(at: -1) == .string, let key = L.string(at: -1), key.utf8.count <= 256 else {
      throw HostError.argument(2, "ordered", "keys[\(i)] is not a member name (a string of at most 256 bytes)")
    }
    guard seen.insert(key).inserted else {
      throw HostError.argument(2, "ordered", "keys[\(i)] '\(key)' is listed twice")
    }
    L.rawSet(-2, Int64(i))
  }
  L.getField(LuaState.registry, JSONNull.orderTable)
  L.pushValue(at: 1)
  L.pushValue(at: -3)
  L.rawSet(-3)
  L.top = 1
  JSONNull.mark(L, empty: .object)
  return .one
}
