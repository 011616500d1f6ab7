import Foundation
import MLHostCore
import MLHostLua
import MLHostModules
import MLHostRuntime
import MLHostTesting
import Testing

@Suite struct SettingsTests {
  static let schema = """
    local schema = {
      shop = { type = "string", required = true, description = "the myshopify.com domain" },
      poll = { type = "duration", default = "5m" },
      tolerance = { type = "decimal", default = "0.01" },
      rounding = { type = "enum", values = { "half_even", "half_up" }, default = "half_even" },
      x3 = { type = "record", fields = {
        url = { type = "url", required = true },
        credential = { type = "credential", required = true },
        folder = { type = "string", default = "SEED" },
      } },
      sku_map = { type = "map", values = { type = "string" } },
      sites = { type = "array", elements = { type = "string" } },
    }
    """

  func connector(_ settings: String, modules: [String: String] = [:]) throws -> TempConnector {
    try TempConnector(
      script: Self.schema + """
        local c = mlhost.connector { name = "s", settings = schema }
        c:job("main", function()
          local copy = {}
          for k, v in pairs(c.settings) do copy[k] = v end
          copy.tolerance = tostring(copy.tolerance)
          return copy
        end)
        c:job("tolerance", function() return tostring(c.settings.tolerance + "0.005") end)
        return c
        """, settings: settings, modules: modules)
  }

  @Test func validSettingsGetDefaultsAndConversions() async throws {
    let c = try connector(
      """
      shop = "zoe.myshopify.com"  # comment
      sku_map = "maps/sku.csv"
      sites = ["FR01", "DE02"]

      [x3]
      url = "https://x3.example.com:8124"
      credential = "x3_prod"
      """, modules: ["maps/sku.csv": "shopify_sku,x3_item\nTSHIRT-M,\"TS,001\"\nMUG,MUG-02\n"])
    defer { c.remove() }
    let v = try await c.load()
    let outcome = await v.run(job: "main")
    guard case .succeeded(let r) = outcome else {
      Issue.record("failed: \(outcome)")
      return
    }
    let s = r[0]
    #expect(s["shop"] == "zoe.myshopify.com")
    #expect(s["poll"] == .integer(300))
    #expect(s["rounding"] == "half_even")
    #expect(s["tolerance"] == "0.01")
    #expect(s["x3"]["folder"] == "SEED")
    #expect(s["sku_map"] == ["TSHIRT-M": "TS,001", "MUG": "MUG-02"])
    #expect(s["sites"] == ["FR01", "DE02"])
    guard case .succeeded(let t) = await v.run(job: "tolerance") else {
      Issue.record("failed")
      return
    }
    #expect(t == ["0.015"])
    await v.retire(grace: 0)
  }

  @Test func everyProblemIsReportedWithItsKey() async throws {
    let c = try connector(
      """
      poll = "soon"
      tolerance = 0.01
      rounding = "nearest"
      typo = 1
      [x3]
      url = "ftp://x"
      """)
    defer { c.remove() }
    do {
      _ = try await c.load()
      Issue.record("loaded")
    } catch let e as LuaError {
      for expected in [
        "settings.shop: required setting is missing (the myshopify.com domain)",
        "settings.poll: 'soon' is not a duration", "settings.tolerance: write decimal amounts in quotes",
        "settings.rounding: one of half_even, half_up expected", "settings.typo: unknown setting",
        "settings.x3.url: an http(s) URL expected", "settings.x3.credential: required setting is missing",
      ] {
        #expect(e.message.contains(expected), "missing: \(expected)\n\(e.message)")
      }
      #expect(e.message.contains("connector.toml"))
    }
  }

  @Test func secretsCannotBeSettings() async throws {
    let c = try TempConnector(
      script: """
        return mlhost.connector { name = "s", settings = { api_password = { type = "string" } } }
        """)
    defer { c.remove() }
    await #expect(throws: LuaError.self) { try await c.load() }
  }

  @Test func tomlErrorsNameTheLine() async throws {
    let c = try connector("shop = \"a\"\nbad line here\n")
    defer { c.remove() }
    do {
      _ = try await c.load()
      Issue.record("loaded")
    } catch let e as HostError {
      #expect(e.description.hasSuffix("connector.toml:2: expected '=' after key 'bad'"), "\(e)")
    }
  }

  @Test func tomlReadsTheUsualShapes() throws {
    let v = try TOMLReader.parse(
      """
      title = 'literal \\n'
      n = 1_000
      hex = 0xff
      f = 1.5
      on = true
      when = 2025-01-12T14:02:11Z
      multi = \"\"\"
      line one
      line two\"\"\"
      list = [ 1, 2,
        3, ]
      inline = { a = 1, b.c = "x" }
      a.b.c = 1
      [server]
      host = "h"
      [[jobs]]
      name = "a"
      [[jobs]]
      name = "b"
      [jobs.extra]
      k = 1
      """)
    #expect(v["title"] == "literal \\n")
    #expect(v["n"] == .integer(1000))
    #expect(v["hex"] == .integer(255))
    #expect(v["f"] == .number(1.5))
    #expect(v["on"] == true)
    #expect(v["when"] == "2025-01-12T14:02:11Z")
    #expect(v["multi"] == "line one\nline two")
    #expect(v["list"] == [1, 2, 3])
    #expect(v["inline"] == ["a": 1, "b": ["c": "x"]])
    #expect(v["a"] == ["b": ["c": 1]])
    #expect(v["server"]["host"] == "h")
    #expect(v["jobs"] == [["name": "a"], ["name": "b", "extra": ["k": 1]]])
    #expect(throws: HostError.self) { try TOMLReader.parse("a = 1\na = 2") }
    #expect(#expect(throws: HostError.self) { try TOMLReader.parse("[t]\n[t]") }?.line == 2)
  }
}

@Suite struct ScheduleTests {
  let t0 = try! Timestamp.parse("2025-01-12T14:02:11Z")  // a Sunday

  func next(_ expr: String, zone: String = "UTC", after: Double? = nil) throws -> String {
    try Timestamp.format(try CronSchedule(expr, zone: zone).next(after: after ?? t0)!, zone: zone)
  }

  @Test func cronNextFirings() throws {
    #expect(try next("*/15 * * * *") == "2025-01-12T14:15:00Z")
    #expect(try next("0 6 * * *") == "2025-01-13T06:00:00Z")
    #expect(try next("30 8 * * mon-fri") == "2025-01-13T08:30:00Z")
    #expect(try next("0 0 1 * *") == "2025-02-01T00:00:00Z")
    #expect(try next("@daily") == "2025-01-13T00:00:00Z")
    #expect(try next("@weekly") == "2025-01-19T00:00:00Z")
    #expect(try next("0 12 29 2 *") == "2028-02-29T12:00:00Z")
    #expect(try next("0 9 13 * 5") == "2025-01-13T09:00:00Z")  // day 13 or a Friday: OR semantics
    #expect(try next("0 6 * * *", zone: "Europe/Paris") == "2025-01-13T06:00:00+01:00")
    // Spring forward: 02:30 does not exist in Paris on 2025-03-30.
    let before = try Timestamp.parse("2025-03-30T00:00:00Z")
    #expect(try next("0 3 * * *", zone: "Europe/Paris", after: before) == "2025-03-30T03:00:00+02:00")
  }

  @Test func badCronIsRefused() {
    for bad in ["* * * *", "60 * * * *", "* 24 * * *", "5-1 * * * *", "*/0 * * * *", "* * * foo *"] {
      #expect(#expect(throws: HostError.self, "\(bad)") { try CronSchedule(bad) }?.kind == .input)
    }
    #expect(throws: HostError.self) { try CronSchedule("@daily", zone: "Mars/Base") }
  }

  @Test func connectorDeclaresSchedules() async throws {
    let c = try TempConnector(
      script: """
        local c = mlhost.connector { name = "sched" }
        c:every("5m", "poll", function() end)
        c:cron("0 6 * * *", "nightly", function() end, { tz = "Europe/Paris" })
        c:on_webhook("shopify", "orders/create", function() end, { secret = "shopify_webhook" })
        return c
        """)
    defer { c.remove() }
    let v = try await c.load()
    #expect(v.definition.schedules.map(\.job) == ["poll", "nightly"])
    #expect(v.definition.jobs["poll"]?.schedule == .every(seconds: 300))
    #expect(v.definition.webhooks.first?.job == "webhook.shopify.orders/create")
    #expect(v.definition.webhooks.first?.secret == "shopify_webhook")
    await v.retire(grace: 0)
    for (bad, message) in [
      ("c:every('soon', 'x', function() end)", "interval"),
      ("c:cron('* *', 'x', function() end)", "5 fields"),
      ("c:job('a', function() end) c:job('a', function() end)", "already declared"),
      ("c:on_webhook('ebay', 'x', function() end)", "system must be"),
    ] {
      let d = try TempConnector(script: "local c = mlhost.connector { name = 'x' }\n\(bad)\nreturn c")
      defer { d.remove() }
      do {
        _ = try await d.load()
        Issue.record("\(bad) loaded")
      } catch let e as LuaError {
        #expect(e.message.contains(message), "\(e.message)")
        #expect(e.message.contains("connector.lua:2:"), "\(e.message)")
      }
    }
  }
}
