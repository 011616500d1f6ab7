import MLHostCore
import MLHostLua
import MLHostVM

extension NativeModule {
  static let money = NativeModule(
    "money",
    "Exact decimal arithmetic for amounts. Decimals come from strings or integers only — a binary float is refused "
      + "— and support `+ - *`, comparisons, `tostring` and `..`. Division and rounding always name their rounding: "
      + "half_even, half_up, down, up, floor, ceiling.",
    functions: [
      NativeFunction(
        "new", "An exact decimal from a string such as \"124.95\", an integer or a decimal.",
        params: [("value", "string|integer|mlhost.Decimal", "the amount")], returns: [("mlhost.Decimal", "")],
        newDecimal),
      NativeFunction(
        "is_decimal", "Whether `value` is an exact decimal.", params: [("value", "any", "")],
        returns: [("boolean", "")], isDecimal),
      NativeFunction(
        "add", "a + b.", params: [("a", "mlhost.Amount", ""), ("b", "mlhost.Amount", "")],
        returns: [("mlhost.Decimal", "")], addDecimal),
      NativeFunction(
        "sub", "a - b.", params: [("a", "mlhost.Amount", ""), ("b", "mlhost.Amount", "")],
        returns: [("mlhost.Decimal", "")], subDecimal),
      NativeFunction(
        "mul", "a × b, exact (scales add up).", params: [("a", "mlhost.Amount", ""), ("b", "mlhost.Amount", "")],
        returns: [("mlhost.Decimal", "")], mulDecimal),
      NativeFunction(
        "div", "a ÷ b at `scale` places with explicit rounding.",
        params: [
          ("a", "mlhost.Amount", ""), ("b", "mlhost.Amount", ""), ("scale", "integer", "places, 0…30"),
          ("rounding", "mlhost.Rounding?", "default half_even"),
        ], returns: [("mlhost.Decimal", "")], divDecimal),
      NativeFunction(
        "round", "`a` at exactly `scale` places.",
        params: [
          ("a", "mlhost.Amount", ""), ("scale", "integer", "places, 0…30"),
          ("rounding", "mlhost.Rounding?", "default half_even"),
        ],
        returns: [("mlhost.Decimal", "")], roundDecimal),
      NativeFunction(
        "cmp", "-1, 0 or 1 as a is below, equal to or above b.",
        params: [("a", "mlhost.Amount", ""), ("b", "mlhost.Amount", "")], returns: [("integer", "")], cmpDecimal),
      NativeFunction(
        "sum", "The exact sum of an array of amounts (0 for an empty one).",
        params: [("amounts", "mlhost.Amount[]", "")], returns: [("mlhost.Decimal", "")], sumDecimals),
      NativeFunction(
        "format", "The amount as text; with `scale`, rounded half-even to exactly that many places.",
        params: [("a", "mlhost.Amount", ""), ("scale", "integer?", "places")], returns: [("string", "")], formatDecimal),
      NativeFunction(
        "allocate",
        "Splits `total` across lines in proportion to `weights` (amounts) or into `weights` equal parts (an "
          + "integer), at `scale` places (default: the total's). The parts always sum to the total to the cent; "
          + "leftover cents go to the largest remainders, earlier lines first.",
        params: [
          ("total", "mlhost.Amount", ""), ("weights", "mlhost.Amount[]|integer", ""), ("scale", "integer?", ""),
        ],
        returns: [("mlhost.Decimal[]", "")], allocateDecimal),
    ],
    prepare: { vm in ExactDecimal.installMetatable(vm) })
}

extension ExactDecimal {
  static let metatableName = "mlhost.Decimal"

  /// The decimal at `index` when it is one of ours (never calls a metamethod).
  static func check(_ L: LuaState, _ index: Int32) -> ExactDecimal? {
    guard let p = L.userdata(index, named: metatableName) else { return nil }
    return p.loadUnaligned(as: ExactDecimal.self)
  }

  func push(_ L: LuaState) {
    let p = L.newUserdata(size: MemoryLayout<ExactDecimal>.size)
    p.storeBytes(of: self, as: ExactDecimal.self)
    L.pushMetatable(named: Self.metatableName)
    L.setMetatable(-2)
  }

  static func installMetatable(_ vm: isolated LuaVM) {
    let L = vm.L
    L.newMetatable(metatableName)
    L.lockMetatable()
    let ops: [(String, NativeBody)] = [
      ("__add", addDecimal), ("__sub", subDecimal), ("__mul", mulDecimal), ("__unm", negDecimal),
      ("__div", refuseOperator), ("__idiv", refuseOperator), ("__mod", refuseOperator), ("__pow", refuseOperator),
      ("__eq", eqDecimal), ("__lt", ltDecimal), ("__le", leDecimal), ("__tostring", formatDecimal),
      ("__concat", concatDecimal),
    ]
    for (name, fn) in ops {
      vm.push(native: fn)
      L.setField(-2, name)
    }
    L.newTable()
    let methods: [(String, NativeBody)] = [
      ("add", addDecimal), ("sub", subDecimal), ("mul", mulDecimal), ("div", divDecimal), ("round", roundDecimal),
      ("cmp", cmpDecimal), ("format", formatDecimal), ("allocate", allocateDecimal),
      ("is_zero", isZeroDecimal), ("sign", signDecimal), ("abs", absDecimal),
    ]
    for (name, fn) in methods {
      vm.push(native: fn)
      L.setField(-2, name)
    }
    L.setField(-2, "__index")
    L.push("decimal")
    L.setField(-2, "__name")
    L.pop()
  }
}

extension LuaState {
  /// The amount at `index` (decimal, integer or decimal string). Floats are refused: a binary float cannot hold
  /// most cent values exactly.
  func decimal(at index: Int32, _ fname: String) throws -> ExactDecimal {
    if let d = ExactDecimal.check(self, index) { return d }
    switch type(at: index) {
    case .number where isInteger(index):
      return ExactDecimal(integer(at: index)!)
    case .number:
      throw HostError.argument(
        index, fname, "binary float \(number(at: index)!) refused: pass the amount as a string such as \"124.95\"")
    case .string:
      let text = string(at: index)!
      if let d = ExactDecimal(text) { return d }
      throw HostError.argument(index, fname, "'\(text)' is not a decimal number")
    default:
      throw HostError.argument(index, fname, "amount expected, got \(typeName(at: index))")
    }
  }

  func rounding(at index: Int32, _ fname: String) throws -> ExactDecimal.Rounding {
    guard !isNoneOrNil(index) else { return .halfEven }
    if let s = string(at: index), let r = ExactDecimal.Rounding(rawValue: s) { return r }
    let names = ExactDecimal.Rounding.allCases.map(\.rawValue).joined(separator: ", ")
    throw HostError.argument(index, fname, "rounding must be one of \(names)")
  }

  func scale(at index: Int32, _ fname: String) throws -> Int {
    if let s = integer(at: index), (0...Int64(ExactDecimal.maxScale)).contains(s) { return Int(s) }
    throw HostError.argument(index, fname, "scale must be an integer from 0 to \(ExactDecimal.maxScale)")
  }

  /// Pushes the result of a decimal operation; its failure (an overflow) is the script's misuse.
  func pushResult(_ body: () throws -> ExactDecimal) throws -> NativeResult {
    do {
      try body().push(self)
      return .one
    } catch {
      throw HostError.misuse("\(error)")
    }
  }
}

private let newDecimal: NativeBody = { L, _ in
  let d = try L.decimal(at: 1, "new")
  d.push(L)
  return .one
}

private let isDecimal: NativeBody = { L, _ in
  L.push(ExactDecimal.check(L, 1) != nil)
  return .one
}

private func binary(_ L: LuaState, _ name: String, _ op: (ExactDecimal, ExactDecimal) throws -> ExactDecimal) throws
  -> NativeResult
{
  let a = try L.decimal(at: 1, name)
  let b = try L.decimal(at: 2, name)
  return try L.pushResult { try op(a, b) }
}

private let addDecimal: NativeBody = { L, _ in try binary(L, "add") { try $0.adding($1) } }
private let subDecimal: NativeBody = { L, _ in try binary(L, "sub") { try $0.subtracting($1) } }
private let mulDecimal: NativeBody = { L, _ in try binary(L, "mul") { try $0.multiplied(by: $1) } }

private let negDecimal: NativeBody = { L, _ in
  let a = try L.decimal(at: 1, "unm")
  return try L.pushResult { try ExactDecimal(0).subtracting(a) }
}

private let absDecimal: NativeBody = { L, _ in
  let a = try L.decimal(at: 1, "abs")
  a.magnitude.push(L)
  return .one
}

private let refuseOperator: NativeBody = { _, _ in
  throw HostError.misuse("decimals divide only with mlhost.money.div(a, b, scale, rounding), which names its rounding")
}

private let divDecimal: NativeBody = { L, _ in
  let a = try L.decimal(at: 1, "div")
  let b = try L.decimal(at: 2, "div")
  let s = try L.scale(at: 3, "div")
  let r = try L.rounding(at: 4, "div")
  return try L.pushResult { try a.divided(by: b, scale: s, r) }
}

private let roundDecimal: NativeBody = { L, _ in
  let a = try L.decimal(at: 1, "round")
  let s = try L.scale(at: 2, "round")
  let r = try L.rounding(at: 3, "round")
  return try L.pushResult { try a.rounded(scale: s, r) }
}

private func compare(_ L: LuaState, _ name: String, _ body: (LuaState, ExactDecimal, ExactDecimal) -> Void) throws
  -> NativeResult
{
  let a = try L.decimal(at: 1, name)
  let b = try L.decimal(at: 2, name)
  body(L, a, b)
  return .one
}

private let cmpDecimal: NativeBody = { L, _ in
  try compare(L, "cmp") { L, a, b in L.push(a < b ? -1 : (a == b ? 0 : 1)) }
}
private let eqDecimal: NativeBody = { L, _ in try compare(L, "eq") { L, a, b in L.push(a == b) } }
private let ltDecimal: NativeBody = { L, _ in try compare(L, "lt") { L, a, b in L.push(a < b) } }
private let leDecimal: NativeBody = { L, _ in try compare(L, "le") { L, a, b in L.push(a <= b) } }

private let isZeroDecimal: NativeBody = { L, _ in
  let a = try L.decimal(at: 1, "is_zero")
  L.push(a.isZero)
  return .one
}

private let signDecimal: NativeBody = { L, _ in
  let a = try L.decimal(at: 1, "sign")
  L.push(a.sign)
  return .one
}

private let formatDecimal: NativeBody = { L, _ in
  let a = try L.decimal(at: 1, "format")
  guard L.type(at: 2) == .number else {
    L.push(a.description)
    return .one
  }
  let s = try L.scale(at: 2, "format")
  do { L.push(try a.rounded(scale: s, .halfEven).description) } catch { throw HostError.misuse("\(error)") }
  return .one
}

private let concatDecimal: NativeBody = { L, _ in
  var parts: [String] = []
  for i in Int32(1)...2 {
    if let d = ExactDecimal.check(L, i) {
      parts.append(d.description)
    } else if L.type(at: i) == .string || L.type(at: i) == .number {
      parts.append(String(decoding: L.bytes(at: i)!, as: UTF8.self))
    } else {
      throw HostError.misuse("attempt to concatenate a \(L.typeName(at: i)) value")
    }
  }
  L.push(parts[0] + parts[1])
  return .one
}

private let sumDecimals: NativeBody = { L, _ in
  guard L.type(at: 1) == .table else { throw HostError.argument(1, "sum", "array of amounts expected") }
  var total = ExactDecimal(0)
  for i in 1...max(1, L.rawLength(1)) where i <= L.rawLength(1) {
    _ = L.rawGet(1, Int64(i))
    let d = try L.decimal(at: -1, "sum")
    L.pop()
    do { total = try total.adding(d) } catch { throw HostError.misuse("\(error)") }
  }
  total.push(L)
  return .one
}

/// More parts than any invoice has lines: allocation is quadratic in the number of parts.
private let maxParts = 10_000

private let allocateDecimal: NativeBody = { L, _ in
  let total = try L.decimal(at: 1, "allocate")
  var weights: [ExactDecimal] = []
  if L.type(at: 2) == .number {
    guard let n = L.integer(at: 2, in: 1...Int64(maxParts)) else {
      throw HostError.argument(
        2, "allocate", "a number of parts from 1 to \(maxParts) expected, got \(L.describe(at: 2))")
    }
    weights = Array(repeating: ExactDecimal(1), count: Int(n))
  } else if L.type(at: 2) == .table {
    guard (1...maxParts).contains(L.rawLength(2)) else {
      throw HostError.argument(2, "allocate", "from 1 to \(maxParts) weights expected, got \(L.rawLength(2))")
    }
    for i in 1...L.rawLength(2) {
      _ = L.rawGet(2, Int64(i))
      let w = try L.decimal(at: -1, "allocate")
      L.pop()
      weights.append(w)
    }
  } else {
    throw HostError.argument(2, "allocate", "an array of weights or a number of parts expected")
  }
  var scale = total.scale
  if !L.isNoneOrNil(3) { scale = try L.scale(at: 3, "allocate") }
  do {
    let parts = try total.allocated(by: weights, scale: scale)
    L.newTable(array: Int32(parts.count))
    for (i, p) in parts.enumerated() {
      p.push(L)
      L.rawSet(-2, Int64(i + 1))
    }
    return .one
  } catch {
    throw HostError.misuse("\(error)")
  }
}
