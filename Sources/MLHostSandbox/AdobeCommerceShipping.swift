import Foundation
import Hummingbird
import MLHostCore

/// Invoices and shipments of the simulated store: quantities per order row, a configurable product's child row
/// following its parent, more than is left refused with Magento's templated errors.
extension AdobeCommerceSimulator {

  /// Magento refusing an invoice or a shipment, as the answer it sends.
  struct Refused: Error, @unchecked Sendable {
    let response: Response
  }

  /// The quantities to act on per order row: `items` as given (configurable children refused in favour of their
  /// parent, as Magento ignores them), or everything left. `done` reads what a row has had already.
  static func quantities(_ order: [String: Any], _ given: [[String: Any]]?, done: String) -> Result<[Int: Int], Refused>
  {
    let rows = order["items"] as? [[String: Any]] ?? []
    func left(_ row: [String: Any]) -> Int {
      (row["qty_ordered"] as? Int ?? 0) - (row[done] as? Int ?? 0) - (row["qty_canceled"] as? Int ?? 0)
    }
    var out: [Int: Int] = [:]
    if let given, !given.isEmpty {
      for g in given {
        guard let id = (g["order_item_id"] as? NSNumber)?.intValue, let qty = (g["qty"] as? NSNumber)?.doubleValue
        else { continue }
        guard let row = rows.first(where: { $0["item_id"] as? Int == id }), row["parent_item_id"] is NSNull else {
          continue
        }
        guard qty > 0 else { continue }
        guard qty == qty.rounded(), Int(qty) <= left(row) else {
          return .failure(
            Refused(
              response: error(
                "We found an invalid quantity to %1 item \"%2\".",
                [done == "qty_shipped" ? "ship" : "invoice", "\(row["name"] ?? "")"])))
        }
        out[id, default: 0] += Int(qty)
      }
    } else {
      for row in rows where row["parent_item_id"] is NSNull && left(row) > 0 { out[row["item_id"] as! Int] = left(row) }
    }
    return .success(out)
  }

  /// Applies quantities to an order's rows (a configurable parent's child follows it).
  static func apply(_ q: [Int: Int], to order: inout [String: Any], field: String) {
    var rows = order["items"] as? [[String: Any]] ?? []
    for i in rows.indices {
      let id = rows[i]["item_id"] as! Int
      let parent = rows[i]["parent_item_id"] as? Int
      if let n = q[id] ?? parent.flatMap({ q[$0] }) { rows[i][field] = (rows[i][field] as? Int ?? 0) + n }
    }
    order["items"] = rows
    let complete =
      rows.allSatisfy { ($0["qty_shipped"] as? Int ?? 0) >= ($0["qty_ordered"] as? Int ?? 0) }
      && rows.allSatisfy { ($0["qty_invoiced"] as? Int ?? 0) >= ($0["qty_ordered"] as? Int ?? 0) }
    if complete { (order["state"], order["status"]) = ("complete", "complete") }
    order["updated_at"] = stamp(Date().timeIntervalSince1970)
  }

  func ship(_ id: Int?, _ body: [String: Any]) -> Response {
    state.withLock { s -> Response in
      guard let id, var order = s.orders[id] else { return Self.error(Self.notFound, status: .notFound) }
      let rows = order["items"] as? [[String: Any]] ?? []
      let open = rows.contains {
        $0["parent_item_id"] is NSNull && ($0["qty_ordered"] as? Int ?? 0) > ($0["qty_shipped"] as? Int ?? 0)
      }
      guard open, order["state"] as? String != "canceled" else {
        s.counters["ship_refused", default: 0] += 1
        return Self.error("Shipment Document Validation Error(s):\nThe order does not allow a shipment to be created.")
      }
      let q: [Int: Int]
      switch Self.quantities(order, body["items"] as? [[String: Any]], done: "qty_shipped") {
      case .failure(let r):
        s.counters["ship_refused", default: 0] += 1
        return r.response
      case .success(let v): q = v
      }
      guard !q.isEmpty else {
        s.counters["ship_refused", default: 0] += 1
        return Self.error("Shipment Document Validation Error(s):\nYou can't create a shipment without products.")
      }
      Self.apply(q, to: &order, field: "qty_shipped")
      s.orders[id] = order
      s.nextID += 1
      let shipmentID = s.nextID
      let tracks = (body["tracks"] as? [[String: Any]] ?? []).enumerated().map { i, t -> [String: Any] in
        [
          "entity_id": shipmentID * 10 + i, "parent_id": shipmentID, "order_id": id,
          "track_number": t["track_number"] ?? "",
          "title": t["title"] ?? "", "carrier_code": t["carrier_code"] ?? "custom",
        ]
      }
      var comments: [[String: Any]] = []
      if let c = body["comment"] as? [String: Any], let text = c["comment"] as? String {
        comments.append([
          "comment": text, "is_visible_on_front": c["is_visible_on_front"] ?? 0, "parent_id": shipmentID,
        ])
      }
      let items = q.keys.sorted().map { itemID -> [String: Any] in
        let row = rows.first { $0["item_id"] as? Int == itemID }!
        return [
          "order_item_id": itemID, "qty": q[itemID]!, "sku": row["sku"] ?? "", "name": row["name"] ?? "",
          "parent_id": shipmentID,
        ]
      }
      s.shipments[shipmentID] = [
        "entity_id": shipmentID, "increment_id": String(format: "%09d", 200_000_000 + shipmentID), "order_id": id,
        "store_id": order["store_id"] ?? 1, "total_qty": q.values.reduce(0, +), "items": items, "tracks": tracks,
        "comments": comments,
        "created_at": Self.stamp(Date().timeIntervalSince1970), "updated_at": Self.stamp(Date().timeIntervalSince1970),
      ]
      s.counters["shipments_created", default: 0] += 1
      return Self.json(shipmentID)
    }
  }

  func invoice(_ id: Int?, _ body: [String: Any]) -> Response {
    state.withLock { s -> Response in
      guard let id, var order = s.orders[id] else { return Self.error(Self.notFound, status: .notFound) }
      let q: [Int: Int]
      switch Self.quantities(order, body["items"] as? [[String: Any]], done: "qty_invoiced") {
      case .failure(let r): return r.response
      case .success(let v): q = v
      }
      guard !q.isEmpty else {
        return Self.error("The invoice can't be created without products. Add products and try again.")
      }
      Self.apply(q, to: &order, field: "qty_invoiced")
      s.orders[id] = order
      s.nextID += 1
      let rows = order["items"] as? [[String: Any]] ?? []
      var total = ExactDecimal(0)
      let items = q.keys.sorted().map { itemID -> [String: Any] in
        let row = rows.first { $0["item_id"] as? Int == itemID }!
        let price = row["price"] as? ExactDecimal ?? ExactDecimal(0)
        let line = Self.money((try? price.multiplied(by: ExactDecimal(Int64(q[itemID]!)))) ?? price)
        total = (try? total.adding(line)) ?? total
        return ["order_item_id": itemID, "qty": q[itemID]!, "sku": row["sku"] ?? "", "price": price]
      }
      s.invoices[s.nextID] = [
        "entity_id": s.nextID, "increment_id": String(format: "%09d", 300_000_000 + s.nextID), "order_id": id,
        "state": 2,
        "grand_total": total, "items": items, "created_at": Self.stamp(Date().timeIntervalSince1970),
        "updated_at": Self.stamp(Date().timeIntervalSince1970),
      ]
      return Self.json(s.nextID)
    }
  }
}
