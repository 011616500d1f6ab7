import Foundation
import MLHostCore

/// The X3 folder's purchasing side (API facts §4.2): suppliers (`BPSUPPLIER`/BPSNUM), purchase orders (`PORDER`,
/// POH: POHNUM, BPSNUM, lines with POPLIN, ITMREF, QTYUOM, GROPRI and the quantity already invoiced INVQTY) and
/// supplier invoices (`PINVOICE`, PIH: NUM, BPR, BPRVCR — the supplier's own document number, unique per supplier —
/// ACCDAT, BPRDAT, CUR, STA 3 = posted, AMTNOT, AMTATI, lines linked to a PO line). Deliveries carry a carrier
/// (BPTNUM) and a tracking number (YTRKNUM). Seeded from the Adobe store's orders, so every PO number an order
/// names exists here — except the one kept back for the "PO missing, then replayed" case.
extension X3Simulator {
  /// The line block names of purchase orders and supplier invoices.
  static let purchaseOrderLines = "POHPOQ"
  static let supplierInvoiceLines = "PIHPID"

  func seedPurchasing(_ seed: AdobeSeed) {
    lock.withLock {
      classes["BPSUPPLIER"] = Class(key: "BPSNUM", properties: ["BPSNUM", "BPSNAM", "CUR", "BPSSTA"])
      classes["PORDER"] = Class(
        key: "POHNUM",
        properties: [
          "POHNUM", "BPSNUM", "ORDDAT", "CUR", "POHFCY", "CLEFLG", Self.purchaseOrderLines,
          "CREDATTIM", "UPDDATTIM",
        ])
      classes["PINVOICE"] = Class(
        key: "NUM",
        properties: [
          "NUM", "PIVTYP", "BPR", "BPRVCR", "ACCDAT", "BPRDAT", "CUR", "STA", "AMTNOT",
          "AMTATI", "FCY", Self.supplierInvoiceLines, "CREDATTIM", "UPDDATTIM",
        ])
      classes["SDELIVERY"]?.properties.formUnion(["BPTNUM", "YTRKNUM"])
      for (code, name) in seed.suppliers {
        classes["BPSUPPLIER"]!.store(["BPSNUM": code, "BPSNAM": name, "CUR": "EUR", "BPSSTA": 2])
      }
      for size in ["S", "M", "L"] where classes["ITMMASTER"]!.rows["HOODIE-\(size)"] == nil {
        classes["ITMMASTER"]!.store([
          "ITMREF": "HOODIE-\(size)", "ITMDES1": "Hoodie Bärenstark \(size)", "TCLCOD": "GOODS", "STU": "UN",
          "ITMSTA": 1,
        ])
      }
      for (acc, des, on) in [
        ("607000", "Achats de marchandises", true), ("607100", "Achats de livres", true),
        ("607900", "Achats divers (fermé)", false), ("624100", "Transports sur achats", true),
        ("445660", "TVA déductible 19 %", true), ("445662", "TVA déductible 7 %", true),
      ] {
        classes["GACCOUNT"]!.store(["ACC": acc, "DES": des, "ENAFLG": on ? 2 : 1])
      }
      let then = SimTime.iso(Date().timeIntervalSince1970 - 7200)
      for po in seed.purchaseOrders { storePurchaseOrder(po, at: then) }
      for (i, d) in seed.deliveries.enumerated() {
        guard let order = seed.orders.first(where: { $0.incrementID == d.order }) else { continue }
        classes["SDELIVERY"]!.store([
          "SDHNUM": String(format: "SDHA%06d", i + 1), "BPCORD": String(format: "C%04d", order.customer),
          "CUSORDREF": d.order,
          "DLVDAT": String(then.prefix(10)), "STOFCY": SandboxSeed.site, "BPTNUM": d.carrier, "YTRKNUM": d.tracking,
          config.names.deliveryLines: d.lines.map { ["ITMREF": $0.item, "QTY": $0.quantity] }, "CREDATTIM": then,
          "UPDDATTIM": then,
        ])
      }
    }
  }

  /// Stores a purchase order (callers hold the lock).
  private func storePurchaseOrder(_ po: AdobeSeed.PurchaseOrder, at: String) {
    classes["PORDER"]!.store([
      "POHNUM": po.number, "BPSNUM": po.supplier, "ORDDAT": String(at.prefix(10)), "CUR": "EUR",
      "POHFCY": SandboxSeed.site, "CLEFLG": 1,
      Self.purchaseOrderLines: po.lines.enumerated().map { i, l in
        ["POPLIN": (i + 1) * 1000, "ITMREF": l.item, "QTYUOM": l.quantity, "GROPRI": l.price.description, "INVQTY": 0]
          as [String: Any]
      },
      "CREDATTIM": at, "UPDDATTIM": at,
    ])
  }

  /// Adds a purchase order, as a buyer entering it in X3 would (the "PO missing, then replayed" case).
  public func addPurchaseOrder(_ po: AdobeSeed.PurchaseOrder) {
    lock.withLock { storePurchaseOrder(po, at: SimTime.iso(Date().timeIntervalSince1970)) }
  }

  /// Adds a delivery for Adobe order `reference` (its increment id), as the warehouse validating one would.
  @discardableResult
  public func addDelivery(
    reference: String, customer: String, lines: [(item: String, quantity: Int)], tracking: String,
    carrier: String = "UPS"
  ) -> String {
    lock.withLock {
      let now = SimTime.iso(Date().timeIntervalSince1970)
      let number = String(format: "SDHB%06d", (classes["SDELIVERY"]!.rows.count) + 1)
      classes["SDELIVERY"]!.store([
        "SDHNUM": number, "BPCORD": customer, "CUSORDREF": reference, "DLVDAT": String(now.prefix(10)),
        "STOFCY": SandboxSeed.site,
        "BPTNUM": carrier, "YTRKNUM": tracking,
        config.names.deliveryLines: lines.map { ["ITMREF": $0.item, "QTY": $0.quantity] },
        "CREDATTIM": now, "UPDDATTIM": now,
      ])
      return number
    }
  }

  /// Creates a supplier invoice by X3's rules (callers hold the lock); nil for a class this extension does not own.
  func createPurchasing(_ name: String, _ body: [String: Any]) -> Result<[String: Any], Refusal>? {
    guard name == "PINVOICE" else { return nil }
    if let problem = supplierInvoiceProblem(body) { return .failure(Refusal(message: problem)) }
    let now = SimTime.iso(Date().timeIntervalSince1970)
    var row = body.filter { classes[name]!.properties.contains($0.key) }
    sequenceNumber += 1
    row["NUM"] = String(format: "PIH%@%06d", SandboxSeed.site, sequenceNumber)
    row["PIVTYP"] = body["PIVTYP"] ?? "INV"
    row["STA"] = 3
    row["CREDATTIM"] = now
    row["UPDDATTIM"] = now
    // The PO lines it invoices are invoiced that much further.
    for l in body[Self.supplierInvoiceLines] as? [[String: Any]] ?? [] {
      guard let po = l["POHNUM"] as? String, var order = classes["PORDER"]!.rows[po] else { continue }
      var lines = order[Self.purchaseOrderLines] as? [[String: Any]] ?? []
      if let i = lines.firstIndex(where: { "\($0["POPLIN"] ?? "")" == "\(l["POPLIN"] ?? "")" }) {
        lines[i]["INVQTY"] = (lines[i]["INVQTY"] as? Int ?? 0) + ((l["QTY"] as? NSNumber)?.intValue ?? 0)
      }
      order[Self.purchaseOrderLines] = lines
      order["UPDDATTIM"] = now
      classes["PORDER"]!.store(order)
    }
    classes[name]!.store(row)
    return .success(row)
  }

  /// X3's rules for a supplier invoice: a known supplier, its document number not used before for that supplier,
  /// lines on items that exist with a tax level and an active account, each PO line it names belonging to the same
  /// supplier, on the same item, with that much left to invoice, and totals that balance to the cent.
  private func supplierInvoiceProblem(_ b: [String: Any]) -> String? {
    guard let supplier = b["BPR"] as? String, !supplier.isEmpty else { return "Supplier mandatory" }
    guard classes["BPSUPPLIER"]!.rows[supplier] != nil else { return "Supplier \(supplier): Record does not exist" }
    guard let document = b["BPRVCR"] as? String, !document.isEmpty else { return "Supplier document number mandatory" }
    if !classes["PINVOICE"]!.lookup("BPRVCR", document).filter({ $0["BPR"] as? String == supplier }).isEmpty {
      return "Supplier document \(document) already exists for supplier \(supplier)"
    }
    let lines = b[Self.supplierInvoiceLines] as? [[String: Any]] ?? []
    guard !lines.isEmpty else { return "At least one line is required" }
    var net = ExactDecimal(0)
    var vat = ExactDecimal(0)
    var claimed: [String: Int] = [:]
    for (i, l) in lines.enumerated() {
      let item = "\(l["ITMREF"] ?? "")"
      guard classes["ITMMASTER"]!.rows[item] != nil else { return "Line \(i + 1): product \(item) does not exist" }
      let level = "\(l[config.names.taxLevel] ?? "")"
      guard config.taxLevels[level] != nil else { return "Line \(i + 1): tax level \(level): Record does not exist" }
      let account = "\(l["ACC"] ?? "")"
      guard let acc = classes["GACCOUNT"]!.rows[account] else {
        return "Line \(i + 1): account \(account) does not exist"
      }
      guard acc["ENAFLG"] as? Int == 2 else { return "Line \(i + 1): account \(account) is not active" }
      if let po = l["POHNUM"] as? String, !po.isEmpty {
        guard let order = classes["PORDER"]!.rows[po] else {
          return "Line \(i + 1): purchase order \(po): Record does not exist"
        }
        guard order["BPSNUM"] as? String == supplier else {
          return "Line \(i + 1): purchase order \(po) belongs to supplier \(order["BPSNUM"] ?? "")"
        }
        let poLine = "\(l["POPLIN"] ?? "")"
        guard
          let line = (order[Self.purchaseOrderLines] as? [[String: Any]] ?? []).first(where: {
            "\($0["POPLIN"] ?? "")" == poLine
          })
        else {
          return "Line \(i + 1): purchase order \(po) has no line \(poLine)"
        }
        guard "\(line["ITMREF"] ?? "")" == item else {
          return "Line \(i + 1): purchase order \(po) line \(poLine) is for \(line["ITMREF"] ?? ""), not \(item)"
        }
        let qty = (l["QTY"] as? NSNumber)?.intValue ?? 0
        claimed["\(po)|\(poLine)", default: 0] += qty
        let left = (line["QTYUOM"] as? Int ?? 0) - (line["INVQTY"] as? Int ?? 0)
        guard qty > 0, claimed["\(po)|\(poLine)"]! <= left else {
          return
            "Line \(i + 1): quantity \(qty) is more than the \(left) left to invoice on purchase order \(po) line \(poLine)"
        }
      }
      guard let amount = Self.decimal(l["AMTNOTLIN"]), let tax = Self.decimal(l["VATAMT"]) else {
        return "Line \(i + 1): amounts expected as decimals"
      }
      net = (try? net.adding(amount)) ?? net
      vat = (try? vat.adding(tax)) ?? vat
    }
    guard let amtnot = Self.decimal(b["AMTNOT"]), let amtati = Self.decimal(b["AMTATI"]) else {
      return "AMTNOT and AMTATI are mandatory"
    }
    guard amtnot == net, let gross = try? net.adding(vat), amtati == gross else {
      return "Totals do not balance: lines \(net) + tax \(vat) ≠ \(amtati)"
    }
    return nil
  }

  /// Supplier invoices, purchase orders and suppliers held.
  public var purchasingCounts: [String: Int] {
    lock.withLock {
      [
        "supplier_invoices": classes["PINVOICE"]?.rows.count ?? 0,
        "purchase_orders": classes["PORDER"]?.rows.count ?? 0,
        "suppliers": classes["BPSUPPLIER"]?.rows.count ?? 0,
      ]
    }
  }
}
