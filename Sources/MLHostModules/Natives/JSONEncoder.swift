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
    L.setMetatable(-2)
    L.setField(LuaState.registry, orderTable)
    for shape in [Shape.array, .object] {
      L.newMetatable(shape.rawValue)
      L.push(shape == .array ? "json array" : "json object")
      L.setField(-2, "__name")
      L.lockMetatable()
      L.pop()
    }
  }

  /// Gives the table on top the metatable that says what it is when it is empty.
  static func mark(_ L: LuaState, empty shape: Shape) {
    L.pushMetatable(named: shape.rawValue)
    L.setMetatable(-2)
  }

  static func shape(_ L: LuaState, _ index: Int32) -> Shape? {
    guard L.getMetatable(index) else { return nil }
    defer { L.pop(2) }
    L.pushMetatable(named: Shape.array.rawValue)
    if L.rawEqual(-1, -2) { return .array }
    L.pop()
    L.pushMetatable(named: Shape.object.rawValue)
    return L.rawEqual(-1, -2) ? .object : nil
  }
}

/// Encodes a Lua value as JSON into one growing byte buffer. A value JSON cannot hold is the script's misuse
/// (`HostError` of kind `script`); each caller says what it was encoding.
struct LuaJSONEncoder {
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
    case .nil_: out.append(contentsOf: "null".utf8)
    case .boolean: out.append(contentsOf: (L.bool(at: index) ? "true" : "false").utf8)
    case .number:
      if L.isInteger(index) {
        appendInteger(L.integer(at: index)!)
      } else {
        let d = L.number(at: index)!
        guard d.isFinite else { throw HostError.misuse("cannot encode \(d) (JSON has no NaN or infinity)") }
        if d == d.rounded(), abs(d) < 1e15 { appendInteger(Int64(d)) } else { out.append(contentsOf: "\(d)".utf8) }
      }
    case .string: appendString(L.bytes(at: index)!)
    case .table: try table(index)
    case .lightUserdata where L.lightUserdata(at: index) == JSONNull.pointer:
      out.append(contentsOf: "null".utf8)
    case .userdata where ExactDecimal.check(L, index) != nil:
      out.append(contentsOf: ExactDecimal.check(L, index)!.description.utf8)
    default:
      throw HostError.misuse("cannot encode a \(L.typeName(at: index))")
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
    guard depth <= 128 else { throw HostError.misuse("table nested more than 128 levels deep (a cycle?)") }
    guard L.checkStack(4) else { throw HostError.misuse("out of Lua stack space") }
    let n = L.rawLength(t)
    var isArray: Bool
    if n > 0 {
      var count = 0
      L.pushNil()
      while L.next(t) {
        count += 1
        L.pop()
      }
      isArray = count == n
    } else {
      L.pushNil()
      let empty = !L.next(t)
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
    while L.next(t) {
      if L.type(at: -2) == .string, !ordered.isEmpty, let key = L.string(at: -2), ordered.contains(key) {
        L.pop()
        continue
      }
      if !first { out.append(UInt8(ascii: ",")) }
      first = false
      switch L.type(at: -2) {
      case .string: appendString(L.bytes(at: -2)!)
      case .number where L.isInteger(-2):
        out.append(UInt8(ascii: "\""))
        appendInteger(L.integer(at: -2)!)
        out.append(UInt8(ascii: "\""))
      default:
        let name = L.typeName(at: -2)
        L.pop(2)
        throw HostError.misuse("cannot encode a table key of type \(name) (keys are strings)")
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
    L.getField(LuaState.registry, JSONNull.orderTable)
    L.pushValue(at: t)
    guard L.rawGet(-2) == .table else {
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
      L.push(key)
      guard L.rawGet(t) != .nil_ else {
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
