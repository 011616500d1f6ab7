import Foundation
import Synchronization

/// Keeps a running sandbox busy the way a store's day is: every step a new order is placed (mostly by a customer X3
/// knows, for items it knows; now and then by a new buyer X3 does not know yet, or with the SKU X3 does not know),
/// and one more thing happens — an order awaiting payment is paid, a paid one is fulfilled or cancelled, or X3's
/// stock of an item moves. Orders go out as the store's webhooks (orders/create, orders/updated) to the
/// subscriptions the connector registered; stock moves wait for the connector's poll. Which actions come, in which
/// order, follows from the seed alone.
public final class SandboxLive: Sendable {
  let sandbox: Sandbox
  private let random: Mutex<(generator: SeededRandom, guests: Int)>

  /// One thing the generator does.
  enum Action: Sendable {
    case place(SandboxSeed.Customer, [SandboxSeed.Line], financialStatus: String, note: String)
    case change(number: Int, pay: Bool, fulfil: Bool, cancel: Bool)
    case stock(item: String, delta: Int)
  }

  /// `seed`: nil takes the sandbox's own (`Options.seed`), so one number repeats a whole run.
  public init(_ sandbox: Sandbox, seed: UInt64? = nil) {
    self.sandbox = sandbox
    random = Mutex((SeededRandom(seed: (seed ?? sandbox.seedNumber) ^ 0x11FE), 0))
  }

  static let buyers: [(String, String)] = [
    ("Noor", "Haddad"), ("Tomás", "Ribeiro"), ("Inès", "Berger"), ("Kwame", "Mensah"),
  ]

  /// One step: what it did, a line per action.
  public func step() -> [String] {
    plan().map(perform) + wooCommerceStep()
  }

  /// Runs `step` every `interval` seconds until the task is cancelled, reporting each line.
  public func run(every interval: Double, report: @escaping @Sendable (String) -> Void) -> Task<Void, Never> {
    Task {
      while !Task.isCancelled {
        try? await Task.sleep(for: .seconds(interval))
        if Task.isCancelled { break }
        for line in step() { report(line) }
      }
    }
  }

  func plan() -> [Action] {
    let orders = sandbox.shopify.state.withLock { s in
      s.orders.values.sorted { $0.number < $1.number }
        .map {
          (
            number: $0.number, status: $0.financialStatus, open: $0.cancelledAt == nil,
            fulfilled: !$0.fulfillments.isEmpty
          )
        }
    }
    let items = sandbox.x3.rows("STOCK").compactMap { $0["ITMREF"] as? String }.sorted()
    let seed = sandbox.seed
    return random.withLock { state -> [Action] in
      var r = state.generator
      defer { state.generator = r }
      // Services map to a GL account the seed keeps closed: a valid order is goods X3 knows.
      let goods = seed.products.filter { $0.x3Item != nil && $0.productClass != "SERV" }
      let known = seed.customers.filter { $0.x3Code != nil }
      var actions: [Action] = []
      let roll = r.below(100)
      var customer = known.isEmpty ? nil : r.pick(known)
      var note = ""
      if roll < 10 || customer == nil {
        state.guests += 1
        let (first, last) = r.pick(Self.buyers)
        let email =
          "\(first.lowercased().folding(options: .diacriticInsensitive, locale: nil)).\(last.lowercased()).\(state.guests)@example.org"
        customer = SandboxSeed.Customer(first: first, last: last, email: email)
        note = " (a new buyer, not in X3)"
      }
      var lines =
        goods.isEmpty
        ? [] : (0..<(1 + r.below(2))).map { _ in SandboxSeed.Line(product: r.pick(goods), quantity: 1 + r.below(3)) }
      if (10..<17).contains(roll) || lines.isEmpty, let unknown = seed.products.first(where: { $0.x3Item == nil }) {
        lines.append(SandboxSeed.Line(product: unknown, quantity: 1))
        note += " (with \(unknown.sku), which X3 does not know)"
      }
      if let customer, !lines.isEmpty {
        actions.append(.place(customer, lines, financialStatus: r.below(5) == 0 ? "PENDING" : "PAID", note: note))
      }
      let awaiting = orders.filter { $0.open && ["PENDING", "PARTIALLY_PAID"].contains($0.status) }
      let shippable = orders.filter { $0.open && $0.status == "PAID" && !$0.fulfilled }
      let next = r.below(10)
      if next < 3, !awaiting.isEmpty {
        actions.append(
          .change(number: awaiting[r.below(awaiting.count)].number, pay: true, fulfil: false, cancel: false))
      } else if next < 6, !shippable.isEmpty {
        actions.append(
          .change(number: shippable[r.below(shippable.count)].number, pay: false, fulfil: true, cancel: false))
      } else if next == 6, !shippable.isEmpty {
        actions.append(
          .change(number: shippable[r.below(shippable.count)].number, pay: false, fulfil: false, cancel: true))
      } else if !items.isEmpty {
        actions.append(.stock(item: r.pick(items), delta: r.below(16) - 5))
      }
      return actions
    }
  }

  func perform(_ action: Action) -> String {
    switch action {
    case .place(let customer, let lines, let financialStatus, let note):
      let name = sandbox.shopify.placeOrder(customer: customer, lines: lines, financialStatus: financialStatus)
      let what = lines.map { "\($0.quantity) × \($0.product.sku)" }.joined(separator: ", ")
      return "new order \(name) by \(customer.email): \(what), \(financialStatus.lowercased())\(note)"
    case .change(let number, let pay, let fulfil, let cancel):
      var change: [String: Any] = [:]
      if pay { change["financial_status"] = "paid" }
      if fulfil { change["fulfill"] = true }
      if cancel { change["cancel"] = true }
      sandbox.shopify.changeOrder(number: number, change)
      return "order #\(number) \(pay ? "paid" : fulfil ? "fulfilled" : "cancelled")"
    case .stock(let item, let delta):
      let before = sandbox.x3.stock(item: item) ?? 0
      let after = max(0, before + delta)
      sandbox.x3.setStock(item: item, quantity: after)
      return "X3 stock of \(item) at \(SandboxSeed.site): \(before) → \(after)"
    }
  }
}
