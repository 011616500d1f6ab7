import MLHostCore
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Testing

@Suite struct TimeTests {
  // 2025-01-12T14:02:11Z
  let t: Double = 1_736_690_531

  @Test func parsesTheSystemsForms() throws {
    for text in [
      "2025-01-12T14:02:11Z", "2025-01-12T15:02:11+01:00", "2025-01-12T09:02:11-0500", "2025-01-12 14:02:11",
      "2025-01-12T14:02:11", "datetime'2025-01-12T14:02:11'", "@2025-01-12T14:02:11Z@",
    ] {
      #expect(try Timestamp.parse(text) == t, "\(text)")
    }
    #expect(try Timestamp.parse("2025-01-12T14:02:11.250Z") == t + 0.25)
    #expect(try Timestamp.parse("2025-01-12") == t - (14 * 3600 + 2 * 60 + 11))
    #expect(try Timestamp.parse("2025-01-12 15:02:11", zone: "Europe/Paris") == t)
    #expect(try Timestamp.parse("2025-07-12 16:02:11", zone: "Europe/Paris") == t + 181 * 86400)
    for bad in ["2025-13-01", "yesterday", "2025-01-12T25:00:00Z", "2025-01-12T14:02:11+1"] {
      #expect(#expect(throws: HostError.self) { try Timestamp.parse(bad) }?.kind == .input)
    }
  }

  @Test func formatsTheSystemsForms() throws {
    #expect(try Timestamp.format(t) == "2025-01-12T14:02:11Z")
    #expect(try Timestamp.format(t + 0.5) == "2025-01-12T14:02:11.500Z")
    #expect(try Timestamp.format(t, style: .sql) == "2025-01-12 14:02:11")
    #expect(try Timestamp.format(t, style: .x3) == "@2025-01-12T14:02:11Z@")
    #expect(try Timestamp.format(t, style: .odata) == "datetime'2025-01-12T14:02:11'")
    #expect(try Timestamp.format(t, zone: "+05:30") == "2025-01-12T19:32:11+05:30")
    #expect(try Timestamp.format(-1) == "1969-12-31T23:59:59Z")
  }

  @Test func luaSide() async throws {
    let v = try await evalLua(
      """
      local tm = mlhost.time
      local t = tm.parse("2025-01-12T15:02:11+01:00")
      local bad, err = tm.parse("soon")
      return { t, tm.format(t, "sql"), bad == nil and err, math.abs(tm.now() - os.time()) < 5 }
      """)
    #expect(v == [.integer(Int64(t)), "2025-01-12 14:02:11", "bad time", true])
  }
}
