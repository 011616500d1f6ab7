import Foundation
import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Testing

@Suite struct JSONTests {
  @Test func nullIsDistinctFromAbsent() async throws {
    let v = try await evalLua(
      """
      local t = mlhost.json.decode('{"a": null}')
      return { a_is_null = t.a == mlhost.json.null, b_absent = t.b == nil, back = mlhost.json.encode(t) }
      """)
    #expect(v["a_is_null"] == true)
    #expect(v["b_absent"] == true)
    #expect(v["back"] == #"{"a":null}"#)
  }

  @Test func emptyObjectAndEmptyArrayStayApart() async throws {
    let v = try await evalLua(#"return mlhost.json.encode(mlhost.json.decode('{"o":{},"a":[],"n":[[],{}]}'))"#)
    let text = try #require(v.stringValue)
    #expect(text.contains(#""o":{}"#))
    #expect(text.contains(#""a":[]"#))
    #expect(text.contains(#""n":[[],{}]"#))
    #expect(try await evalLua("return mlhost.json.encode(mlhost.json.array())") == "[]")
    #expect(try await evalLua("return mlhost.json.encode({})") == "{}")
  }

  /// Sage 300 puts fields to its views in the order they arrive: an ordered object keeps the order it was given,
  /// nested ones too, whatever order the table's hash holds them in; its other members follow.
  @Test func orderedObjectsEncodeTheirNamedMembersFirstInOrder() async throws {
    let v = try await evalLua(
      """
      local json = mlhost.json
      local detail = json.ordered({ ExtendedAmountWithTIP = 200, DistributionCode = "CACCSE" },
        { "DistributionCode", "ExtendedAmountWithTIP" })
      local body = json.ordered({ Terms = "N30", Extra = 1, GroupCode = "WHL", CustomerNumber = "1501",
        Details = { detail } }, { "CustomerNumber", "GroupCode", "Absent", "Terms" })
      local refused = {}
      for _, args in ipairs({ { {}, { "a", "a" } }, { {}, { 1 } }, { 5, {} } }) do
        local ok, err = pcall(json.ordered, args[1], args[2])
        refused[#refused + 1] = not ok and tostring(err) or "accepted"
      end
      return { body = json.encode(body), empty = json.encode(json.ordered({}, { "a" })), twice = refused[1],
        number = refused[2], scalar = refused[3] }
      """)
    let text = try #require(v["body"].stringValue)
    #expect(text.hasPrefix(#"{"CustomerNumber":"1501","GroupCode":"WHL","Terms":"N30","#))
    #expect(text.contains(#"[{"DistributionCode":"CACCSE","ExtendedAmountWithTIP":200}]"#))
    #expect(text.contains(#""Extra":1"#) && !text.contains("Absent"))
    #expect(v["empty"] == "{}")
    #expect(v["twice"].stringValue?.contains("listed twice") == true)
    #expect(v["number"].stringValue?.contains("keys[1] is not a member name") == true)
    #expect(v["scalar"].stringValue?.contains("table expected") == true)
  }

  @Test func bigIntegersStayExact() async throws {
    let v = try await evalLua(
      """
      local t = mlhost.json.decode('[9223372036854775807, -9223372036854775808, 9007199254740993, 5678901234567890123]')
      return { math.type(t[1]), t[1] == math.maxinteger, t[2] == math.mininteger, t[3], mlhost.json.encode(t) }
      """)
    #expect(
      v == [
        "integer", true, true, .integer(9_007_199_254_740_993),
        "[9223372036854775807,-9223372036854775808,9007199254740993,5678901234567890123]",
      ])
  }

  @Test func decimalsCanBeExact() async throws {
    let v = try await evalLua(
      """
      local o = mlhost.json.decode('{"grand_total": 124.95, "tax": 0.1, "qty": 3}', { decimals = true })
      local sum = o.grand_total + o.tax
      return { tostring(o.grand_total), tostring(sum), math.type(o.qty), mlhost.json.encode(o.grand_total),
               mlhost.money.is_decimal(o.tax) }
      """)
    #expect(v == ["124.95", "125.05", "integer", "124.95", true])
    // Without the option, floats are floats.
    #expect(try await evalLua("return math.type(mlhost.json.decode('124.95'))") == "float")
  }

  @Test func stringsEscapesAndUnicodeRoundTrip() async throws {
    let v = try await evalLua(
      #"""
      local s = mlhost.json.decode('"a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00 Zoë"')
      return { s, mlhost.json.encode(s) }
      """#)
    #expect(v == ["a\"b\\c\né😀 Zoë", #""a\"b\\c\né😀 Zoë""#])
  }

  @Test(arguments: ["{", "[1,]", "{\"a\" 1}", "nul", "01", "1.", "\"\\x\"", "[1] x", "\"\u{01}\"", ""])
  func malformedInputReturnsAnErrorAndChangesNothing(_ text: String) async throws {
    let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
      .replacingOccurrences(of: "\u{01}", with: "\\1")
    let v = try await evalLua(
      "local v, err, detail = mlhost.json.decode('\(escaped)') return { v == nil, err, type(detail.position) }")
    #expect(v == [true, "malformed json", "number"])
  }

  @Test func deepNestingIsRefusedNotCrashing() async throws {
    let v = try await evalLua("local _, err = mlhost.json.decode(string.rep('[', 100000)) return err")
    #expect(v == "malformed json")
  }

  @Test func encodeRefusesWhatJSONCannotHold() async throws {
    #expect(
      try await runJob("return mlhost.json.encode({ f = print })").error?.message.contains("cannot encode") == true)
    #expect(try await runJob("return mlhost.json.encode(0/0)").error?.message.contains("NaN") == true)
    #expect(try await runJob("local t = {} t.t = t return mlhost.json.encode(t)").error != nil)
  }

  @Test func shopifyPageRoundTrips() async throws {
    let v = try await evalLua(
      """
      local page = { data = { orders = { edges = {}, pageInfo = { hasNextPage = false } } } }
      for i = 1, 250 do
        page.data.orders.edges[i] = { cursor = "c" .. i, node = { id = "gid://shopify/Order/" .. (5000000000 + i),
          totalPriceSet = { shopMoney = { amount = "124.95", currencyCode = "EUR" } }, name = "#" .. i } }
      end
      return { page, mlhost.json.decode(mlhost.json.encode(page)) }
      """)
    guard case .array(let pair) = v else {
      Issue.record("\(v)")
      return
    }
    #expect(pair[0] == pair[1])
    #expect(pair[1]["data"]["orders"]["edges"] != .nil_)
  }
}

@Suite struct JSONFloatTests {
  /// The fast float path agrees with strtod, the correctly rounded reference, on every shape it accepts.
  @Test func floatsMatchStrtod() async throws {
    let samples = [
      "0.1", "124.95", "-0.2", "1e22", "1e-22", "123456789012345.6", "0.000001", "3.14159",
      "2.5e10", "-7.0E-3", "999999999999999", "1.7976931348623157e308", "5e-324", "0.30000000000000004",
    ]
    let list = samples.joined(separator: ",")
    let v = try await evalLua("return mlhost.json.decode('[\(list)]')")
    guard case .array(let items) = v else {
      Issue.record("\(v)")
      return
    }
    for (text, item) in zip(samples, items) {
      let expected = strtod(text, nil)
      if case .integer(let i) = item {
        #expect(Double(i) == expected, "\(text)")
      } else {
        #expect(item == .number(expected), "\(text)")
      }
    }
  }
}

@Suite struct JSONScanTests {
  func scan(_ s: String) -> JSONScan.Result { Array(s.utf8).withUnsafeBytes { JSONScan.scan($0) } }

  /// RFC 8259's grammar, strictly (Foundation's parser is lenient about trailing commas, so it is no reference).
  @Test(arguments: [
    #"{"id": 5, "a": [1, 2.5e3, -0.1, true, false, null, "x\"y", {}]}"#, "[]", "{}", "  42 ", #""s""#, "-0",
  ])
  func acceptsValidJSON(_ text: String) {
    #expect(scan(text).valid, "\(text)")
  }

  @Test(arguments: [
    "{", "[1,]", #"{"a" 1}"#, "01", "1.", ".5", "nul", #"{"a":1,}"#, "[1] [2]", "\"\u{01}\"", "", "-", "1e",
    "{\"a\":}",
  ])
  func refusesInvalidJSON(_ text: String) {
    #expect(!scan(text).valid, "\(text)")
  }

  @Test func picksTheTopLevelID() {
    #expect(scan(#"{"name": "x", "id": 5678901234, "line_items": [{"id": 1}]}"#).topLevelID == "5678901234")
    #expect(scan(#"{"line_items": [{"id": 1}], "id": "gid://shopify/Order/9"}"#).topLevelID == "gid://shopify/Order/9")
    #expect(scan(#"{"nested": {"id": 3}}"#).topLevelID == nil)
    #expect(scan("[1, 2]").topLevelID == nil)
  }

  /// Member names in the order they came, nested objects and arrays of objects included; escaped names decoded.
  @Test func memberOrderKeepsTheOrderSent() {
    let text = #"{"b":1,"a":{"z":[],"y":null},"rows":[{"k":1,"j":2},3,{"\u00e9t\u00e9":"x"}],"c":"d"}"#
    let order = JSONMemberOrder.of(Array(text.utf8))
    #expect(order?.names == ["b", "a", "rows", "c"])
    #expect(order?.nested["a"] == [JSONMemberOrder(names: ["z", "y"], nested: ["z": []])])
    #expect(order?.nested["rows"]?.map(\.names) == [["k", "j"], ["été"]])
    #expect(JSONMemberOrder.of(Array("[1]".utf8)) == nil, "not an object")
    #expect(JSONMemberOrder.of(Array(#"{"a":1,}"#.utf8)) == nil, "not JSON")
  }
}
