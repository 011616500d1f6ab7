import Foundation
import MLHostLua
import MLHostRuntime
import MLHostTesting
import Testing

/// A `map` of records given as a CSV: the header names the fields, the first column is the key
/// (`product,item,account`), each row is checked against the record's schema like any setting.
@Suite struct MappingCSVRecordTests {
  static let script = """
    local c = mlhost.connector { name = "m", settings = {
      products = { type = "map", values = { type = "record", fields = {
        item = { type = "string", required = true },
        account = { type = "string", required = true },
      } } },
    } }
    c:job("main", function()
      local out = {}
      for k, v in pairs(c.settings.products) do out[k] = v.item .. "/" .. v.account end
      return out
    end)
    return c
    """

  @Test func rowsBecomeRecordsByTheirHeader() async throws {
    let c = try TempConnector(
      script: Self.script, settings: "products = \"p.csv\"\n",
      modules: ["p.csv": "product,item,account\n93,TS-BIO-M,701000\n\"SKU,9\",\"MUG, café\",701100\n"])
    defer { c.remove() }
    let v = try await c.load()
    guard case .succeeded(let r) = await v.run(job: "main") else {
      Issue.record("failed")
      return
    }
    #expect(r[0] == ["93": "TS-BIO-M/701000", "SKU,9": "MUG, café/701100"])
    await v.retire(grace: 0)
  }

  @Test func aRowMissingAFieldOrWithTooManyIsRefusedWithItsPlace() async throws {
    for (csv, expected) in [
      ("product,item,account\n93,TS-BIO-M,\n", "settings.products.93.account: required setting is missing"),
      ("product,item,account\n93,TS-BIO-M,701000,extra\n", "p.csv:2: more values than the header names"),
    ] {
      let c = try TempConnector(script: Self.script, settings: "products = \"p.csv\"\n", modules: ["p.csv": csv])
      defer { c.remove() }
      do {
        _ = try await c.load()
        Issue.record("loaded \(csv)")
      } catch let e as LuaError {
        #expect(e.message.contains(expected), "\(e.message)")
      }
    }
  }
}
