import MLHostCore

/// What a Sage View notices of the order of a write's fields. The Web API puts each property to the view in the
/// order the JSON gives it (API facts §5.4: "order matters"): a record's key fields must be put first, so that the
/// fields after them land on that record (a customer's `CustomerNumber`, an invoice's `CustomerNumber`, which
/// brings the customer's defaults), and a detail collection after the header fields it belongs to, so that its rows
/// are inserted under a complete header. Anything else is refused as Sage 300 refuses a record it cannot take.
struct Sage300FieldOrder {
  /// Fields that must come before every other field of the record (in any order among themselves).
  var first: [String] = []
  /// Detail collections: after every field of the record; their rows are checked with their own rules.
  var details: [String: Sage300FieldOrder] = [:]

  /// Instructions to the Web API rather than fields of the view: they may come anywhere.
  static let instructions: Set<String> = ["UpdateOperation"]

  static let invoiceDetail = Sage300FieldOrder(first: ["BatchNumber", "EntryNumber", "LineNumber"])
  static let paymentSchedule = Sage300FieldOrder(first: ["BatchNumber", "EntryNumber", "PaymentNumber"])
  static let invoice = Sage300FieldOrder(
    first: ["BatchNumber", "EntryNumber", "CustomerNumber"],
    details: ["InvoiceDetails": invoiceDetail, "InvoicePaymentSchedules": paymentSchedule])
  static let byResource: [String: Sage300FieldOrder] = [
    "AR/ARCustomers": Sage300FieldOrder(first: ["CustomerNumber"]),
    "AR/ARInvoiceBatches": Sage300FieldOrder(first: ["BatchNumber"], details: ["Invoices": invoice]),
  ]

  /// Why the fields of a write to `resource` (its raw bytes) are out of order for its view, or nil.
  static func problem(_ resource: String, _ body: [UInt8]) -> String? {
    guard let rules = byResource[resource], let order = JSONMemberOrder.of(body) else { return nil }
    return rules.problem(order, record: String(resource.split(separator: "/").last ?? ""))
  }

  func problem(_ order: JSONMemberOrder, record: String) -> String? {
    let names = order.names.filter { !Self.instructions.contains($0) }
    let leading = Set(first)
    if let other = names.firstIndex(where: { !leading.contains($0) }),
      let late = names[other...].first(where: { leading.contains($0) })
    {
      return "\(record): \(late) must be put to the view before \(names[other]) (fields are put in the order sent)"
    }
    if let detail = names.firstIndex(where: { details[$0] != nil }),
      let late = names[detail...].first(where: { details[$0] == nil })
    {
      return "\(record): \(late) must be put to the view before its details \(names[detail])"
    }
    for (name, rules) in details.sorted(by: { $0.key < $1.key }) {
      for (i, row) in (order.nested[name] ?? []).enumerated() {
        if let why = rules.problem(row, record: "\(record) \(name)[\(i + 1)]") { return why }
      }
    }
    return nil
  }
}
