import CLua
import Foundation
import MLHostLua
import MLHostVM

/// What the containment costs: the same Lua work in a VM whose job budgets are armed (instructions with
/// allocations charged, CPU time read every 16th check, patterns step-counted), in one without budgets, and in a
/// plain Lua state with Lua's own string library and no hook at all. Interleaved rounds, medians.
func benchBudget() async throws {
  let workloads: [(String, String)] = [
    ("compute", "local x = 0 for i = 1, 3000000 do x = x + i % 7 end"),
    ("alloc", "local t = {} for i = 1, 200000 do t[i] = 'k' .. i end"),
    (
      "gmatch",
      """
      local s = string.rep('user42@example.com ', 200) local n = 0
      for _ = 1, 200 do for a, b in s:gmatch('(%w+)@(%w+)%.com') do n = n + 1 end end
      """
    ),
    (
      "gsub",
      "local s = string.rep('  padded text  ', 100) for _ = 1, 2000 do local t = s:gsub('^%s*(.-)%s*$', '%1') end"
    ),
  ]
  let armed = try LuaVM(
    name: "armed", limits: VMLimits(memoryBytes: 1 << 30, loadInstructions: 2_000_000_000, loadSeconds: 120),
    modulePaths: ModulePaths(connectorDirectory: URL(fileURLWithPath: "."), stdlibDirectory: nil), logger: quiet)
  try await armed.prepare()
  let free = try await newVM()
  let plain = PlainLua()
  defer { plain.close() }
  for (name, code) in workloads {
    let timed = "local t0 = os.clock() \(code) return os.clock() - t0"
    var a: [Double] = []
    var f: [Double] = []
    var p: [Double] = []
    for _ in 0..<7 {
      guard case .number(let x) = try await armed.evaluate(timed), case .number(let y) = try await free.evaluate(timed)
      else { fatalError("a workload did not return its time") }
      a.append(x)
      f.append(y)
      p.append(plain.seconds(timed))
    }
    let (ma, mf, mp) = (median(a), median(f), median(p))
    print(
      "budget \(name): armed \(fmt(ma * 1000)) ms, no budget \(fmt(mf * 1000)) ms, plain Lua \(fmt(mp * 1000)) ms; "
        + "armed/no budget \(fmt(ma / mf, 2))×, armed/plain Lua \(fmt(ma / mp, 2))×")
  }
  armed.close()
  free.close()
}

/// A bare lua_State with Lua's own libraries: the baseline nothing of mlhost touches.
final class PlainLua {
  let L: OpaquePointer = luaL_newstate()

  init() { luaL_openlibs(L) }

  /// Runs `code`, which returns a number of seconds.
  func seconds(_ code: String) -> Double {
    guard luaL_loadstring(L, code) == LUA_OK, mlh_lua_pcall(L, 0, 1, 0) == LUA_OK else {
      fatalError(String(cString: lua_tolstring(L, -1, nil)))
    }
    defer { lua_settop(L, 0) }
    return lua_tonumberx(L, -1, nil)
  }

  func close() { lua_close(L) }
}
