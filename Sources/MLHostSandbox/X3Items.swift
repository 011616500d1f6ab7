import Foundation

extension X3Simulator {
  /// Product classes (TCLCOD) and stock units (STU) this folder has set up: a create naming another is refused, as
  /// X3 refuses a code missing from its setup tables.
  static let itemClasses: Set<String> = ["GOODS", "BOOKS", "SERV"]
  static let stockUnits: Set<String> = ["UN"]

  /// Creates an item (ITMMASTER) by X3's rules (callers hold the lock); nil for a class this extension does not own.
  /// X3 numbers no item itself: the code is the caller's, and a second create of it is refused.
  func createItem(_ name: String, _ body: [String: Any]) -> Result<[String: Any], Refusal>? {
    guard name == "ITMMASTER" else { return nil }
    guard let code = body["ITMREF"] as? String, !code.isEmpty else {
      return .failure(Refusal(message: "Item mandatory"))
    }
    guard code.count <= 20 else { return .failure(Refusal(message: "Item \(code): more than 20 characters")) }
    guard let description = body["ITMDES1"] as? String, !description.isEmpty else {
      return .failure(Refusal(message: "Description mandatory"))
    }
    guard let category = body["TCLCOD"] as? String, !category.isEmpty else {
      return .failure(Refusal(message: "Category mandatory"))
    }
    guard Self.itemClasses.contains(category) else {
      return .failure(Refusal(message: "Category \(category): Record does not exist"))
    }
    guard let unit = body["STU"] as? String, !unit.isEmpty else {
      return .failure(Refusal(message: "Stock unit mandatory"))
    }
    guard Self.stockUnits.contains(unit) else {
      return .failure(Refusal(message: "Unit \(unit): Record does not exist"))
    }
    guard classes[name]!.rows[code] == nil else { return .failure(Refusal(message: "Item \(code) already exists")) }
    var row = body.filter { classes[name]!.properties.contains($0.key) }
    row["ITMSTA"] = 1
    classes[name]!.store(row)
    return .success(row)
  }
}
