import CLua
import CLuaBridge
import MLHostCore
import MLHostLua

/// `mlhost.json.null` and the marks that keep `{}` and `[]` apart through a decode/encode round trip.
enum JSONNull {
  nonisolated(unsafe) private static let tag = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
  static var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(tag) }

  enum Shape: String {
    case array = "mlhost.json.array", object = "mlhost.json.object"
  }

  /// The registry table (weak keys) holding each ordered object's key order (`mlhost.json.ordered`).
  static let orderTable = "mlhost.json.order"

  static func installMetatables(_ L: LuaState) {
    L.newTable()
    L.newTable()
    L.push("k")
    L.setField(-2, "__mode")
    lua_setmetatable(L.raw, -2)
    lua_setfield(L.raw, MLH_LUA_REGISTRYINDEX, orderTable)
    for shape in [Shape.array, .object] {
      luaL_newmetatable(L.raw, shape.rawValue)
      L.push(shape == .array ? "json array" : "json object")
      L.setField(-2, "__name")
      L.lockMetatable()
      L.pop()
    }
  }

  /// Gives the table on top the metatable that says what it is when it is empty.
  static func mark(_ L: LuaState, empty shape: Shape) {
    _ = mlh_lua_getmetatable_named(L.raw, shape.rawValue)
    lua_setmetatable(L.raw, -2)
  }

  static func shape(_ L: LuaState, _ index: Int32) -> Shape? {
    guard lua_getmetatable(L.raw, index) != 0 else { return nil }
    defer { L.pop(2) }
    _ = mlh_lua_getmetatable_named(L.raw, Shape.array.rawValue)
    if lua_rawequal(L.raw, -1, -2) != 0 { return .array }
    L.pop()
    _ = mlh_lua_getmetatable_named(L.raw, Shape.object.rawValue)
    return lua_rawequal(L.raw, -1, -2) != 0 ? .object : nil
  }
}

/// Encodes a Lua value as JSON into one growing byte buffer.
struct LuaJSONEncoder {
  struct Failure: Error {
    let message: String
  }

  let L: LuaState
  var out: [UInt8] = []
  var depth = 0

  init(L: LuaState) {
    self.L = L
    out.reserveCapacity(256)
  }

  mutating func encode(_ index: Int32) throws {
    let index = L.absIndex(index)
    switch L.type(at: index) {
    case LUA_TNIL: out.append(contentsOf: "null".utf8)
    case LUA_TBOOLEAN: out.append(contentsOf: (L.bool(at: index) ? "true" : "false").utf8)
    case LUA_TNUMBER:
      if L.isInteger(index) {
        appendInteger(L.integer(at: index)!)
      } else {
        let d = L.number(at: index)!
        guard d.isFinite else { throw Failure(message: "cannot encode \(d) (JSON has no NaN or infinity)") }
        if d == d.rounded(), abs(d) < 1e15 { appendInteger(Int64(d)) } else { out.append(contentsOf: "\(d)".utf8) }
      }
    case LUA_TSTRING: appendString(L.bytes(at: index)!)
    case LUA_TTABLE: try table(index)
    case LUA_TLIGHTUSERDATA where lua_touserdata(L.raw, index) == JSONNull.pointer:
      out.append(contentsOf: "null".utf8)
    case LUA_TUSERDATA where ExactDecimal.check(L, index) != nil:
      out.append(contentsOf: ExactDecimal.check(L, index)!.description.utf8)
    default:
      throw Failure(message: "cannot encode a \(L.typeName(at: index))")
    }
  }

  mutating func appendInteger(_ v: Int64) {
    if v >= 0 && v < 10 {
      out.append(UInt8(48 + v))
      return
    }
    var buf: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for "-9223372036854775808"
    withUnsafeMutableBytes(of: &buf) { b in
      var i = b.count
      var m = v.magnitude
      repeat {
        i -= 1
        b[i] = UInt8(48 + m % 10)
        m /= 10
      } while m > 0
      if v < 0 {
        i -= 1
        b[i] = UInt8(ascii: "-")
      }
      out.append(contentsOf: b[i...])
    }
  }

  mutating func appendString(_ bytes: UnsafeRawBufferPointer) { JSONText.appendString(bytes, to: &out) }

  mutating func table(_ t: Int32) throws {
    depth += 1
    defer { depth -= 1 }
    guard depth <= 128 else { throw Failure(message: "table nested more than 128 levels deep (a cycle?)") }
    guard lua_checkstack(L.raw, 4) != 0 else { throw Failure(message: "out of Lua stack space") }
    let n = L.rawLength(t)
    var isArray: Bool
    if n > 0 {
      var count = 0
      L.pushNil()
      while lua_next(L.raw, t) != 0 {
        count += 1
        L.pop()
      }
      isArray = count == n
    } else {
      L.pushNil()
      let empty = lua_next(L.raw, t) == 0
      if !empty { L.pop(2) }
      isArray = empty && JSONNull.shape(L, t) == .array
    }
    if isArray {
      out.append(UInt8(ascii: "["))
      for i in 1...max(n, 1) where i <= n {
        if i > 1 { out.append(UInt8(ascii: ",")) }
        _ = L.rawGet(t, Int64(i))
        try encode(-1)
        L.pop()
      }
      out.append(UInt8(ascii: "]"))
      return
    }
    out.append(UInt8(ascii: "{"))
    var first = true
    let ordered = try orderedMembers(t, first: &first)
    L.pushNil()
    while lua_next(L.raw, t) != 0 {
      if L.type(at: -2) == LUA_TSTRING, !ordered.isEmpty, let key = L.string(at: -2), ordered.contains(key) {
        L.pop()
        continue
      }
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
      switch L.type(at: -2) {
      case LUA_TSTRING: appendString(L.bytes(at: -2)!)
      case LUA_TNUMBER where L.isInteger(-2):
        out.append(UInt8(ascii: "\""))
        appendInteger(L.integer(at: -2)!)
        out.append(UInt8(ascii: "\""))
      default:
        let name = L.typeName(at: -2)
        L.pop(2)
        throw Failure(message: "cannot encode a table key of type \(name) (keys are strings)")
      }
      out.append(UInt8(ascii: ":"))
      do { try encode(-1) } catch {
        L.pop(2)
        throw error
      }
      L.pop()
    }
    out.append(UInt8(ascii: "}"))
  }

  /// Writes the members of object `t` whose keys `mlhost.json.ordered` listed, in that order; answers those keys,
  /// which the rest of the object then skips.
  private mutating func orderedMembers(_ t: Int32, first: inout Bool) throws -> Set<String> {
    lua_getfield(L.raw, MLH_LUA_REGISTRYINDEX, JSONNull.orderTable)
    lua_pushvalue(L.raw, t)
    guard lua_rawget(L.raw, -2) == LUA_TTABLE else {
      L.pop(2)
      return []
    }
    defer { L.pop(2) }
    var keys: Set<String> = []
    for i in 1...max(L.rawLength(-1), 1) where i <= L.rawLength(-1) {
      _ = L.rawGet(-1, Int64(i))
      let key = L.string(at: -1) ?? ""
      L.pop()
      keys.insert(key)
      lua_pushstring(L.raw, key)
      guard lua_rawget(L.raw, t) != LUA_TNIL else {
        L.pop()
        continue
      }
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
      key.utf8CString.withUnsafeBytes { appendString(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
      out.append(UInt8(ascii: ":"))
      do { try encode(-1) } catch {
        L.pop()
        throw error
      }
      L.pop()
    }
    return keys
  }
}
