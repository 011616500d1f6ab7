import Foundation
import HTTPTypes
import Hummingbird
import MLHostCore

/// Refunds as WooCommerce keeps them (`GET /orders/{id}/refunds`, the wc/v3 order refunds controller): each gives
/// back quantities of order lines at their share of the line's total and taxes, and the shipping; its rows are sent
/// negative and point at the order line they give back through the meta `_refunded_item_id`, and its `amount` is
/// positive. The order lists them as `refunds: [{id, reason, total}]` and becomes `refunded` once all is given back.
extension WooOrder {
  /// The rows of earlier refunds that gave back order line `line`.
  func refundedRows(_ line: Int) -> [Refund.Line] { refunds.flatMap(\.lines).filter { $0.lineID == line } }

  /// Whether every line and the shipping were given back.
  var refundedInFull: Bool {
    lines.allSatisfy { l in refundedRows(l.id).map(\.quantity).reduce(0, +) >= l.quantity }
      && (shipping == nil || refunds.contains { $0.shipping != nil })
  }

  /// Gives back `quantities` (order line id → quantity) and, with `shipping`, the shipping if no refund gave it back
  /// yet: each line at its price and tax rates, the last units of a line at what is left of it, so that the refunds
  /// of an order add up to its total to the cent. Answers the refund, or nil when a line has less left (or nothing
  /// would be given back).
  @discardableResult
  mutating func refund(quantities: [Int: Int], shipping withShipping: Bool, reason: String, at: Double) -> Refund? {
    let refundID = id * 100 + refunds.count
    var refund = Refund(id: refundID, reason: reason, created: at.rounded(.down))
    for l in lines {
      guard let q = quantities[l.id], q > 0 else { continue }
      let before = refundedRows(l.id)
      let left = l.quantity - before.map(\.quantity).reduce(0, +)
      guard q <= left else { return nil }
      let net: ExactDecimal
      let taxes: [Tax]
      if q == left {
        net = (try? l.total.subtracting(Self.sum(before.map(\.net)))) ?? l.total
        taxes = l.taxes.map { t in
          let given = Self.sum(before.flatMap(\.taxes).filter { $0.rateID == t.rateID }.map(\.amount))
          return Tax(rateID: t.rateID, amount: (try? t.amount.subtracting(given)) ?? t.amount)
        }
      } else {
        net = (try? l.price.multiplied(by: ExactDecimal(Int64(q))).rounded(scale: 2, .halfUp)) ?? l.price
        taxes = l.taxes.map { t in
          let fraction =
            (try? ExactDecimal(Self.rates[t.rateID]!.percent)!.divided(by: ExactDecimal(100), scale: 6, .halfEven))
            ?? ExactDecimal(0)
          return Tax(rateID: t.rateID, amount: (try? net.multiplied(by: fraction).rounded(scale: 2, .halfUp)) ?? net)
        }
      }
      refund.lines.append(
        Refund.Line(id: refundID * 100 + refund.lines.count, lineID: l.id, quantity: q, net: net, taxes: taxes))
    }
    if withShipping, let shipping, !refunds.contains(where: { $0.shipping != nil }) {
      refund.shipping = shipping
      refund.shippingTaxes = shippingTaxes
    }
    guard !refund.lines.isEmpty || refund.shipping != nil else { return nil }
    refunds.append(refund)
    return refund
  }

  /// Gives back all that earlier refunds left (WooCommerce's refund when the merchant marks the order refunded).
  mutating func refundRest(reason: String, at: Double) {
    var left: [Int: Int] = [:]
    for l in lines { left[l.id] = l.quantity - refundedRows(l.id).map(\.quantity).reduce(0, +) }
    refund(quantities: left, shipping: true, reason: reason, at: at)
  }

  /// Refund `r` as `GET /orders/{id}/refunds` answers it: rows negative, `amount` positive.
  func refundJSON(_ r: Refund, offset: Int) -> [String: Any] {
    func negative(_ d: ExactDecimal) -> String { d == ExactDecimal(0) ? "0.00" : "-" + Self.text(d) }
    func taxList(_ ts: [Tax]) -> [[String: Any]] {
      ts.map { ["id": $0.rateID, "total": negative($0.amount), "subtotal": negative($0.amount)] }
    }
    func link(_ row: Int, to line: Int) -> [[String: Any]] {
      [
        [
          "id": row * 10, "key": "_refunded_item_id", "value": "\(line)", "display_key": "_refunded_item_id",
          "display_value": "\(line)",
        ]
      ]
    }
    let items: [[String: Any]] = r.lines.map { row in
      let sold = lines.first { $0.id == row.lineID }
      let tax = Self.sum(row.taxes.map(\.amount))
      return [
        "id": row.id, "name": sold?.name ?? "", "product_id": sold?.productID ?? 0, "variation_id": 0,
        "quantity": -row.quantity, "tax_class": "", "subtotal": negative(row.net), "subtotal_tax": negative(tax),
        "total": negative(row.net), "total_tax": negative(tax), "taxes": taxList(row.taxes),
        "meta_data": link(row.id, to: row.lineID), "sku": sold?.sku ?? NSNull(),
        "price": NSDecimalNumber(string: "-" + (sold?.price.description ?? "0")),
      ]
    }
    var shippingLines: [[String: Any]] = []
    if let shipping = r.shipping {
      shippingLines.append([
        "id": r.id * 100 + 99, "method_title": "Flat rate", "method_id": "flat_rate", "total": negative(shipping),
        "total_tax": negative(Self.sum(r.shippingTaxes.map(\.amount))), "taxes": taxList(r.shippingTaxes),
        "meta_data": link(r.id * 100 + 99, to: id * 100 + 99),
      ])
    }
    return [
      "id": r.id, "date_created": Self.local(r.created, offset), "date_created_gmt": Self.gmt(r.created),
      "amount": Self.text(r.total), "reason": r.reason, "refunded_by": 1, "refunded_payment": false,
      "meta_data": [Any](), "line_items": items, "shipping_lines": shippingLines, "tax_lines": [Any](),
      "fee_lines": [Any](),
    ]
  }
}

extension WooCommerceSimulator {
  /// `GET /orders/{id}/refunds`: the order's refunds, newest first (WordPress's default order, by date).
  func refundRows(_ id: String) -> WooAnswer<[[String: Any]]> {
    let offset = config.utcOffset
    guard let o = Int(id).flatMap({ n in lock.withLock { orders[n] } }) else {
      return .refused(Self.wpError("woocommerce_rest_invalid_order_id", "Invalid order ID.", status: .notFound))
    }
    return .ok(o.refunds.sorted { ($0.created, $0.id) > ($1.created, $1.id) }.map { o.refundJSON($0, offset: offset) })
  }

  /// The merchant refunds `lines` (SKU and quantity) of order `id` and, with `shipping`, its shipping, as the
  /// admin's refund does: the order becomes `refunded` once everything is given back, and `order.updated` fires.
  /// Answers false when there is no such order or it has less left to give back.
  @discardableResult
  public func refundOrder(_ id: Int, lines: [(sku: String, quantity: Int)], shipping: Bool) -> Bool {
    let changed: WooOrder? = lock.withLock {
      guard var o = orders[id] else { return nil }
      var quantities: [Int: Int] = [:]
      for (sku, quantity) in lines {
        guard let line = o.lines.first(where: { $0.sku == sku }) else { return nil }
        quantities[line.id, default: 0] += quantity
      }
      let now = Date().timeIntervalSince1970
      guard o.refund(quantities: quantities, shipping: shipping, reason: "Refunded by the merchant", at: now) != nil
      else { return nil }
      if o.refundedInFull { o.status = "refunded" }
      o.modified = now.rounded(.down)
      orders[id] = o
      counted["refunds", default: 0] += 1
      return o
    }
    guard let changed else { return false }
    fire("order.updated", changed.json(offset: config.utcOffset))
    return true
  }
}
