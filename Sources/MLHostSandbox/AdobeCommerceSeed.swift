import Foundation
import MLHostCore

/// What the simulated Adobe Commerce store starts with, and the purchase orders the sandbox X3 holds for its
/// orders: the same generator feeds both, so every seeded order's PO number exists in X3 — except the awkward
/// ones. Awkward on purpose: a configurable product (parent and child order rows), three store views with two
/// store codes besides `default` and their own prices, unicode names, an order without a PO number, an order whose
/// PO X3 does not have yet, an order partly delivered, orders already shipped in full.
public struct AdobeSeed: Sendable {
  public struct Store: Sendable {
    public var id: Int
    public var code: String
    public var name: String
    /// Prices this store view sets for itself (SKU → price), over the default scope's.
    public var prices: [String: ExactDecimal]
    /// Names this store view gives products (SKU → name).
    public var names: [String: String]
  }

  public struct Product: Sendable {
    public var id: Int
    public var sku: String
    public var name: String
    public var type: String  // simple, configurable
    public var price: ExactDecimal
    public var taxPercent: ExactDecimal
    /// A configurable product's children (their SKUs); a child's parent SKU.
    public var children: [String] = []
    public var parent: String?
  }

  public struct Customer: Sendable {
    public var id: Int
    public var email: String
    public var first: String
    public var last: String
    public var storeID: Int
  }

  public struct Line: Sendable {
    /// The SKU ordered: for a configurable product, the chosen child's (Magento gives parent and child row that SKU).
    public var sku: String
    public var quantity: Int
  }

  public struct Order: Sendable {
    public var entityID: Int
    public var incrementID: String
    public var storeID: Int
    public var customer: Int
    public var lines: [Line]
    public var shipping: ExactDecimal
    /// The buyer's purchase order number (payment method `purchaseorder`), or nil (`checkmo`, no PO).
    public var poNumber: String?
    public var createdAt: Double
  }

  /// An X3 purchase order seeded for an Adobe order: its number, supplier and lines (X3 item, quantity, net price).
  public struct PurchaseOrder: Sendable {
    public var number: String
    public var supplier: String
    public var lines: [(item: String, quantity: Int, price: ExactDecimal)]
  }

  /// An X3 delivery seeded for an Adobe order: what left the warehouse, with its tracking number.
  public struct Delivery: Sendable {
    public var order: String  // increment_id
    public var lines: [(item: String, quantity: Int)]
    public var tracking: String
    public var carrier: String
  }

  public var stores: [Store]
  public var products: [Product]
  public var customers: [Customer]
  public var orders: [Order]
  public var purchaseOrders: [PurchaseOrder]
  public var deliveries: [Delivery]
  /// X3 suppliers (BPSNUM, name).
  public var suppliers: [(code: String, name: String)]
  /// The order whose PO X3 does not have yet (the case "PO missing then replayed"), and its PO.
  public var missingPO: (order: String, purchaseOrder: PurchaseOrder)?

  /// X3 item of each Adobe SKU where they differ (the rest share the code).
  public static let x3Items: [String: String] = ["TSHIRT-M": "TS-BIO-M"]

  public static func x3Item(_ sku: String) -> String { x3Items[sku] ?? sku }

  public static func build(orderCount: Int, seed: UInt64 = 7, start: Double = Date().timeIntervalSince1970 - 86_400)
    -> AdobeSeed
  {
    var random = SeededRandom(seed: seed &+ 0xAD0BE)
    var products: [Product] = []
    var id = 1
    for p in SandboxSeed.catalogue {
      products.append(
        Product(
          id: id, sku: p.sku, name: p.name, type: "simple", price: p.price,
          taxPercent: p.taxRate == dec("0.07") ? dec("7") : dec("19")))
      id += 1
    }
    let sizes = ["S", "M", "L"]
    products.append(
      Product(
        id: id, sku: "HOODIE", name: "Hoodie «Bärenstark»", type: "configurable", price: dec("39.90"),
        taxPercent: dec("19"), children: sizes.map { "HOODIE-\($0)" }))
    id += 1
    for s in sizes {
      products.append(
        Product(
          id: id, sku: "HOODIE-\(s)", name: "Hoodie «Bärenstark» – \(s)", type: "simple", price: dec("39.90"),
          taxPercent: dec("19"), parent: "HOODIE"))
      id += 1
    }
    // In the store only: X3 has no such item.
    products.append(
      Product(
        id: id, sku: "LAMP-ZEN", name: "Lampe «Zen» ✨", type: "simple", price: dec("45.00"), taxPercent: dec("19")))
    id += 1
    let stores = [
      Store(id: 1, code: "default", name: "Default Store View", prices: [:], names: [:]),
      Store(
        id: 2, code: "fr", name: "Vue française",
        prices: [
          "MUG-CAFE": dec("8.90"), "HOODIE-S": dec("42.00"), "HOODIE-M": dec("42.00"),
          "HOODIE-L": dec("42.00"), "TSHIRT-M": dec("21.50"),
          "BOOK-DE": dec("25.50"), "HEADSET-X": dec("82.00"),
        ],
        names: ["MUG-CAFE": "Tasse à café ☕", "TSHIRT-M": "T-shirt bio – M"]),
      Store(
        id: 3, code: "b2b_de", name: "B2B Deutschland",
        prices: [
          "HEADSET-X": dec("74.00"), "CABLE-USB": dec("8.95"), "MUG-CAFE": dec("7.90"),
          "POSTER-A2": dec("11.50"),
        ],
        names: ["HEADSET-X": "Bluetooth-Kopfhörer X"]),
    ]
    let customers = SandboxSeed.people.enumerated().map { i, p in
      Customer(id: i + 1, email: "\(p.2)@example.com", first: p.0, last: p.1, storeID: i % 4 == 1 ? 2 : 1)
    }
    let simple = products.filter { p in SandboxSeed.catalogue.contains { $0.sku == p.sku } }
    var orders: [Order] = []
    var pos: [PurchaseOrder] = []
    var deliveries: [Delivery] = []
    var missing: (String, PurchaseOrder)?
    let suppliers = [("S0001", "Textiles Lumière SARL"), ("S0002", "Müller & Söhne GmbH")]
    for i in 0..<orderCount {
      let number = String(format: "%09d", 100_000_001 + i)
      let storeID = i % 5 == 3 ? 2 : (i % 7 == 5 ? 3 : 1)
      var lines: [Line] = []
      for _ in 0..<(1 + random.below(3)) {
        let p = simple[random.below(simple.count)]
        if let at = lines.firstIndex(where: { $0.sku == p.sku }) {
          lines[at].quantity += 1
        } else {
          lines.append(Line(sku: p.sku, quantity: 1 + random.below(3)))
        }
      }
      if i == 1 || i % 6 == 4 {
        lines.append(Line(sku: "HOODIE-\(sizes[random.below(3)])", quantity: 1 + random.below(2)))
      }
      var po: String? = "PO26-\(String(format: "%05d", 401 + i))"
      if i == 2 { po = nil }  // paid by cheque: no purchase order to match
      let order = Order(
        entityID: i + 1, incrementID: number, storeID: storeID, customer: 1 + random.below(customers.count),
        lines: lines,
        shipping: random.pick([dec("0"), dec("5"), dec("7.50")]), poNumber: po, createdAt: start + Double(i / 3))
      orders.append(order)
      if let po {
        let store = stores.first { $0.id == storeID }!
        let poLines = lines.map { l -> (String, Int, ExactDecimal) in
          let price = store.prices[l.sku] ?? products.first { $0.sku == l.sku }!.price
          return (x3Item(l.sku), l.quantity, price)
        }
        let purchase = PurchaseOrder(number: po, supplier: suppliers[i % 2].0, lines: poLines)
        if i == 4 { missing = (number, purchase) } else { pos.append(purchase) }
      }
      // Fulfilment in X3: every third order is delivered in full; the second order only partly (its first line,
      // one piece) — the rest is delivered later.
      if i % 3 == 0 {
        deliveries.append(
          Delivery(
            order: number, lines: lines.map { (x3Item($0.sku), $0.quantity) },
            tracking: "1Z999AA1\(String(format: "%08d", 10_000 + i))", carrier: "UPS"))
      } else if i == 1 {
        deliveries.append(
          Delivery(
            order: number, lines: [(x3Item(lines[0].sku), 1)], tracking: "JJD0099\(String(format: "%06d", i))",
            carrier: "DHL"))
      }
    }
    return AdobeSeed(
      stores: stores, products: products, customers: customers, orders: orders, purchaseOrders: pos,
      deliveries: deliveries, suppliers: suppliers, missingPO: missing)
  }
}

/// JSON as Magento writes it: money as JSON numbers written from exact decimals (never through a binary double),
/// keys sorted so answers repeat byte for byte.
enum AdobeJSON {
  static func write(_ value: Any, to out: inout String) {
    switch value {
    case let d as ExactDecimal: out += d.description
    case let s as String: out += JSONText.quoted(s)
    case let b as Bool: out += b ? "true" : "false"
    case let i as Int: out += String(i)
    case let i as Int64: out += String(i)
    case let n as NSNumber: out += n.stringValue
    case is NSNull: out += "null"
    case let a as [Any]:
      out += "["
      for (i, v) in a.enumerated() {
        if i > 0 { out += "," }
        write(v, to: &out)
      }
      out += "]"
    case let o as [String: Any]:
      out += "{"
      for (i, k) in o.keys.sorted().enumerated() {
        if i > 0 { out += "," }
        out += JSONText.quoted(k)
        out += ":"
        write(o[k]!, to: &out)
      }
      out += "}"
    default: out += "null"
    }
  }

  static func data(_ value: Any) -> Data {
    var out = ""
    write(value, to: &out)
    return Data(out.utf8)
  }
}
