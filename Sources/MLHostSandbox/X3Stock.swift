import Foundation

/// X3's stock module for goods that leave without a sales delivery: the miscellaneous issue (object SMO, function
/// GESSMO; API facts §4.2 list the stock classes as "verify per installation", so the connector's class and field
/// names are settings). An issue names its site, date and lines (item, quantity in stock unit); creating it takes
/// the goods out of stock and journals one movement per line (`STOJOU`, TRSTYP `issue`, VCRNUM the issue's
/// number). X3 refuses an issue of an unknown item, at a site that keeps no stock of it, or of more than is there.
extension X3Simulator {
  /// A sales document's bill-to (BPI…) and ship-to (BPD…) address.
  static let addressProperties = [
    "BPINAM", "BPIADDLIG", "BPIPOSCOD", "BPICTY", "BPICRY", "BPDNAM", "BPDADDLIG", "BPDPOSCOD",
    "BPDCTY", "BPDCRY",
  ]

  /// The class, key and lines block of miscellaneous issues.
  static let issueClass = "SMO", issueKey = "VCRNUM", issueLines = "SMOLIN"

  func defineStockModule() {
    classes[Self.issueClass] = Class(
      key: Self.issueKey,
      properties: [
        Self.issueKey, "STOFCY", "IPTDAT", "VCRDES", "YEXTREF", Self.issueLines, "CREDATTIM", "UPDDATTIM",
      ])
  }

  /// Creates a stock document of class `name` (callers hold the lock), or nil when `name` is not one.
  func createStockDocument(_ name: String, _ body: [String: Any], now: String) -> Result<[String: Any], Refusal>? {
    guard name == Self.issueClass else { return nil }
    guard let site = body["STOFCY"] as? String, !site.isEmpty else {
      return .failure(Refusal(message: "Site mandatory"))
    }
    let lines = body[Self.issueLines] as? [[String: Any]] ?? []
    guard !lines.isEmpty else { return .failure(Refusal(message: "At least one line is required")) }
    var moves: [(item: String, quantity: Int, left: Int)] = []
    for (i, l) in lines.enumerated() {
      let item = "\(l["ITMREF"] ?? "")"
      guard classes["ITMMASTER"]!.rows[item] != nil else {
        return .failure(Refusal(message: "Line \(i + 1): product \(item) does not exist"))
      }
      guard let qty = (l["QTY"] as? NSNumber)?.intValue ?? Int("\(l["QTY"] ?? "")"), qty > 0 else {
        return .failure(Refusal(message: "Line \(i + 1): quantity must be greater than 0"))
      }
      guard
        let stock = classes["STOCK"]!.rows.values.first(where: {
          "\($0["ITMREF"]!)" == item && "\($0["STOFCY"]!)" == site
        })
      else {
        return .failure(Refusal(message: "Line \(i + 1): no stock of \(item) at site \(site)"))
      }
      let before = (stock["QTYSTU"] as? Int ?? 0) - moves.filter { $0.item == item }.reduce(0) { $0 + $1.quantity }
      guard before >= qty else {
        return .failure(
          Refusal(message: "Line \(i + 1): insufficient stock of \(item) at \(site) (\(before) available)"))
      }
      moves.append((item, qty, before - qty))
    }
    var row = body.filter { classes[name]!.properties.contains($0.key) }
    row[Self.issueKey] = nextNumber("SMO")
    row["CREDATTIM"] = now
    row["UPDDATTIM"] = now
    classes[name]!.store(row)
    for m in moves { moveStock(item: m.item, site: site, to: m.left, type: "issue", voucher: "\(row[Self.issueKey]!)") }
    return .success(row)
  }

  /// The stock movements journaled for voucher `number` (an issue or a delivery).
  public func movements(voucher number: String) -> [[String: Any]] {
    rows("STOJOU").filter { "\($0["VCRNUM"] ?? "")" == number }
  }
}
