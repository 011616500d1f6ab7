import Foundation
import MLHostCore

/// Realistic seed data shared by the simulated Shopify store and Sage X3 folder: multi-line taxed orders, unicode
/// names, shipping on most orders, US orders taxed 6.25 % + 2 % (8.25 %), and the awkward cases a connector must
/// handle — a customer missing in X3, a SKU X3 does not know, a product whose GL account is inactive, a cancelled
/// order, an order still pending payment, fulfilled orders.
public struct SandboxSeed: Sendable {
  public struct Product: Sendable {
    public var sku: String
    public var name: String
    public var price: ExactDecimal
    /// X3 product class (TCLCOD), which the connector maps to a GL sales account.
    public var productClass: String
    public var taxRate: ExactDecimal
    public var taxTitle: String
    /// The item code in X3; nil when X3 does not know the SKU.
    public var x3Item: String?
  }

  public struct Customer: Sendable {
    public var first: String
    public var last: String
    public var email: String
    /// The X3 customer code; nil when the customer is missing in X3.
    public var x3Code: String?

    public init(first: String, last: String, email: String, x3Code: String? = nil) {
      (self.first, self.last, self.email, self.x3Code) = (first, last, email, x3Code)
    }
  }

  public struct Line: Sendable {
    public var product: Product
    public var quantity: Int

    public init(product: Product, quantity: Int) {
      (self.product, self.quantity) = (product, quantity)
    }
  }

  public struct Order: Sendable {
    public var number: Int
    public var customer: Customer
    public var lines: [Line]
    public var createdAt: Double
    public var financialStatus: String
    public var fulfilled: Bool
    public var cancelled: Bool
    /// Shipping charged before tax, taxed like the goods; nil: no shipping line.
    public var shipping: ExactDecimal?
    /// Billed in Austin, Texas: every line and the shipping carry the state's 6.25 % and the city's 2 % (8.25 %)
    /// instead of the product's German VAT.
    public var usSalesTax: Bool

    public init(
      number: Int, customer: Customer, lines: [Line], createdAt: Double, financialStatus: String, fulfilled: Bool,
      cancelled: Bool, shipping: ExactDecimal? = nil, usSalesTax: Bool = false
    ) {
      (self.number, self.customer, self.lines, self.createdAt) = (number, customer, lines, createdAt)
      (self.financialStatus, self.fulfilled, self.cancelled) = (financialStatus, fulfilled, cancelled)
      (self.shipping, self.usSalesTax) = (shipping, usSalesTax)
    }
  }

  /// The taxes Shopify puts on an amount of `rate` (German VAT) or, billed in Austin, Texas's and the city's.
  public static func taxes(on amount: ExactDecimal, rate: ExactDecimal, title: String, us: Bool) -> [(
    title: String, rate: ExactDecimal, amount: ExactDecimal
  )] {
    let parts = us ? [("Texas State Tax", dec("0.0625")), ("Austin City Tax", dec("0.02"))] : [(title, rate)]
    return parts.map { t, r in (t, r, (try? amount.multiplied(by: r).rounded(scale: 2, .halfUp)) ?? ExactDecimal(0)) }
  }

  public var products: [Product]
  public var customers: [Customer]
  public var orders: [Order]
  /// The X3 site and Shopify location that hold stock.
  public static let site = "FR011"
  public static let location = "Entrepôt Paris"

  static let catalogue: [Product] = [
    Product(
      sku: "TSHIRT-M", name: "T-Shirt bio – M", price: dec("19.99"), productClass: "GOODS", taxRate: dec("0.19"),
      taxTitle: "MwSt 19%", x3Item: "TS-BIO-M"),
    Product(
      sku: "MUG-CAFE", name: "Mug café ☕", price: dec("8.50"), productClass: "GOODS", taxRate: dec("0.19"),
      taxTitle: "MwSt 19%", x3Item: "MUG-CAFE"),
    Product(
      sku: "POSTER-A2", name: "Poster A2 «Paris»", price: dec("12.30"), productClass: "GOODS", taxRate: dec("0.19"),
      taxTitle: "MwSt 19%", x3Item: "POSTER-A2"),
    Product(
      sku: "BOOK-DE", name: "Buch: Straße der Ölmühlen", price: dec("24.00"), productClass: "BOOKS",
      taxRate: dec("0.07"), taxTitle: "MwSt 7%", x3Item: "BOOK-DE"),
    Product(
      sku: "HEADSET-X", name: "Casque Bluetooth X", price: dec("79.90"), productClass: "GOODS", taxRate: dec("0.19"),
      taxTitle: "MwSt 19%", x3Item: "HEADSET-X"),
    Product(
      sku: "CABLE-USB", name: "USB-C cable 2 m", price: dec("9.95"), productClass: "GOODS", taxRate: dec("0.19"),
      taxTitle: "MwSt 19%", x3Item: "CABLE-USB"),
  ]
  static let giftWrap = Product(
    sku: "GIFT-WRAP", name: "Gift wrapping", price: dec("3.50"), productClass: "SERV", taxRate: dec("0.19"),
    taxTitle: "MwSt 19%", x3Item: "GIFT-WRAP")
  static let ghost = Product(
    sku: "GHOST-404", name: "Discontinued lamp", price: dec("45.00"), productClass: "GOODS", taxRate: dec("0.19"),
    taxTitle: "MwSt 19%", x3Item: nil)

  static let people: [(String, String, String)] = [
    ("Zoë", "Faure", "zoe.faure"), ("Łukasz", "Żółkiewski", "lukasz.zolkiewski"), ("José", "Núñez", "jose.nunez"),
    ("Søren", "Kierkegård", "soren.k"), ("伟", "李", "li.wei"), ("Ana", "Lima", "ana.lima"),
    ("Björn", "Ångström", "bjorn.angstrom"), ("Chloé", "Dubois", "chloe.dubois"), ("Mehmet", "Yılmaz", "mehmet.yilmaz"),
    ("Aoife", "Ní Bhriain", "aoife.nibhriain"), ("Ελένη", "Παπαδοπούλου", "eleni.p"),
    ("Jürgen", "Groß", "juergen.gross"),
  ]
  static let missing = Customer(first: "Nadia", last: "Özdemir", email: "nadia.ozdemir@example.net", x3Code: nil)

  /// `orderCount` orders; the awkward cases sit among the first ten, the rest are ordinary. Shipping and US taxes
  /// are drawn from a second generator, so the first one's orders stay what they were.
  public static func build(orderCount: Int, seed: UInt64 = 7, start: Double = Date().timeIntervalSince1970 - 86_400)
    -> SandboxSeed
  {
    var random = SeededRandom(seed: seed)
    var extra = SeededRandom(seed: seed &+ 0x5EED)
    let customers = people.enumerated().map { i, p in
      Customer(first: p.0, last: p.1, email: "\(p.2)@example.com", x3Code: String(format: "C%04d", i + 1))
    }
    var orders: [Order] = []
    for i in 0..<orderCount {
      var customer = customers[random.below(customers.count)]
      var lines = (0..<(1 + random.below(3))).map { _ in
        Line(product: catalogue[random.below(catalogue.count)], quantity: 1 + random.below(3))
      }
      // Several orders share a second, so a poll that resumes at a timestamp meets ties.
      let created = start + Double(i / 3)
      var financial = random.below(4) == 0 ? "PARTIALLY_PAID" : "PAID"
      var fulfilled = financial == "PAID" && random.below(3) == 0
      var cancelled = false
      var shipping: ExactDecimal? = extra.below(4) == 0 ? nil : extra.pick([dec("4.90"), dec("6.90"), dec("12.50")])
      var us = extra.below(4) == 0
      switch i {
      case 2: customer = missing
      case 4: lines.append(Line(product: ghost, quantity: 1))
      case 5: (financial, fulfilled) = ("PENDING", false)
      case 6: lines.append(Line(product: giftWrap, quantity: 1))
      case 7: (shipping, us) = (dec("6.90"), true)
      case 8: (cancelled, financial, fulfilled) = (true, "VOIDED", false)
      default: break
      }
      orders.append(
        Order(
          number: 1001 + i, customer: customer, lines: lines, createdAt: created, financialStatus: financial,
          fulfilled: fulfilled, cancelled: cancelled, shipping: shipping, usSalesTax: us))
    }
    return SandboxSeed(products: catalogue + [giftWrap, ghost], customers: customers + [missing], orders: orders)
  }
}

/// A decimal literal of the seed data.
func dec(_ text: String) -> ExactDecimal { ExactDecimal(text)! }
