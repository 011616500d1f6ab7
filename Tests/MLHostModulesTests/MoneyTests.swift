import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Testing

@Suite struct MoneyTests {
  @Test func floatsAreRefused() async throws {
    let e = try #require(try await runJob("return mlhost.money.new(124.95)").error)
    #expect(e.message.contains("binary float"))
    #expect(try await runJob("return mlhost.money.new('1') + 0.1").error?.message.contains("binary float") == true)
  }

  @Test func arithmeticIsExact() async throws {
    let v = try await evalLua(
      """
      local m = mlhost.money
      local a = m.new("0.1") + "0.2"
      return { tostring(a), a == m.new("0.30"), tostring(m.new("19.99") * 3), tostring(-m.new("5")),
               tostring(m.sum({ "0.10", "0.20", 3, m.new("-0.05") })), m.cmp("2.50", "2.5"), m.new("1.005") < m.new("1.01"),
               "total " .. m.new("12.50") }
      """)
    #expect(v == ["0.3", true, "59.97", "-5", "3.25", .integer(0), true, "total 12.50"])
  }

  @Test func roundingModes() async throws {
    let v = try await evalLua(
      """
      local m = mlhost.money
      local r = {}
      for _, x in ipairs({ "2.345", "2.355", "-2.345", "2.3450001" }) do
        r[#r + 1] = m.format(m.round(x, 2, "half_even")) .. "/" .. m.format(m.round(x, 2, "half_up"))
      end
      r[#r + 1] = tostring(m.div("10", "3", 2, "half_even"))
      r[#r + 1] = tostring(m.div("-10", "3", 2, "floor"))
      r[#r + 1] = tostring(m.div("2", "3", 0, "half_up"))
      r[#r + 1] = m.format("7", 2)
      return r
      """)
    #expect(v == ["2.34/2.35", "2.36/2.36", "-2.34/-2.35", "2.35/2.35", "3.33", "-3.34", "1", "7.00"])
    #expect(try await runJob("return mlhost.money.new('1') / 3").error?.message.contains("mlhost.money.div") == true)
    #expect(
      try await runJob("return mlhost.money.div('1', '0', 2)").error?.message.contains("division by zero") == true)
  }

  @Test func allocationNeverLosesACent() async throws {
    let v = try await evalLua(
      """
      local m = mlhost.money
      local function s(parts) local t = {} for i, p in ipairs(parts) do t[i] = tostring(p) end return table.concat(t, " ") end
      return { s(m.allocate("100.00", 3)), s(m.allocate("10.00", { "1", "1", "1" })), s(m.allocate("0.05", { 3, 1 })),
               s(m.allocate("-100.00", 3)), s(m.allocate("124.95", { "19.99", "59.97", "45.00" })) }
      """)
    #expect(v == ["33.34 33.33 33.33", "3.34 3.33 3.33", "0.04 0.01", "-33.34 -33.33 -33.33", "19.99 59.96 45.00"])
  }

  @Test func allocationSumsToTheTotalForManyCases() throws {
    for cents in [1, 7, 99, 100, 12_495, 1_000_001] {
      for n in 1...7 {
        let total = ExactDecimal(coefficient: Int128(cents), scale: 2)
        let weights = (1...n).map { ExactDecimal(Int64($0 * 37 % 11 + 1)) }
        let parts = try total.allocated(by: weights, scale: 2)
        let sum = try parts.reduce(ExactDecimal(0)) { try $0.adding($1) }
        #expect(sum == total)
      }
    }
  }

  @Test func parsingIsStrict() throws {
    #expect(ExactDecimal("12.50")?.description == "12.50")
    #expect(ExactDecimal("-0.001")?.description == "-0.001")
    #expect(ExactDecimal("1e3")?.description == "1000")
    #expect(ExactDecimal("1.5e-2")?.description == "0.015")
    for bad in ["", "-", "1.2.3", "12,50", " 1", "1 ", "abc", "1e", "99999999999999999999999999999999999999999"] {
      #expect(ExactDecimal(bad) == nil, "'\(bad)' parsed")
    }
  }
}
