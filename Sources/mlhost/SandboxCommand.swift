import ArgumentParser
import Foundation
import MLHostCore
import MLHostSandbox

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// `mlhost sandbox <action>`: asks the simulated systems of a running `mlhost run … --sandbox` to do what a person
/// would do in the real ones (add the X3 customer a rejection waits for, place a store order…), through their
/// control routes, found with the control token in `<state>/sandbox.json`.
struct SandboxCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sandbox",
    abstract: "Changes the running sandbox's simulated X3 and Shopify: customers, items, stock, GL accounts, orders.",
    discussion: "Talks to the systems of a running `mlhost run <script> --sandbox` (found through its state folder).",
    subcommands: [
      AddCustomer.self, EnableAccount.self, DisableAccount.self, AddItem.self, SetStock.self, PlaceOrder.self, Pay.self,
      Fulfil.self, Cancel.self, Status.self, WooOrder.self, WooStatus.self,
    ])

  /// The file `run --sandbox` writes (0600) while its systems run: their URLs and the control token.
  static let controlFile = "sandbox.json"
  static let defaultState = ".mlhost-sandbox"

  /// What the first cycle's summary of a `--sandbox` run prints: the commands that fix what the seed got wrong on
  /// purpose, and those that make things happen.
  static func hints(_ sandbox: Sandbox, state: String, live: Double) -> String {
    let me = Invocation.mlhost + " sandbox"
    let hint = state == defaultState ? "" : " --state \(state)"
    let replay = "\(Invocation.mlhost) replay --failed --state \(state)"
    var lines = [
      live > 0
        ? "the sandbox keeps running and stays live: every \(Self.seconds(live)) a new order arrives and an order is paid, fulfilled or cancelled, or X3 stock moves (--sandbox-live-interval; 0 stops it)."
        : "the sandbox keeps running (not live: --sandbox-live-interval 0).",
      "Change it as a person would the real systems, then `\(replay)`:",
    ]
    if let missing = sandbox.seed.customers.first(where: { $0.x3Code == nil }) {
      lines.append("  \(me) add-customer \(missing.email)\(hint)        # the X3 customer the rejected order waits for")
    }
    if let unknown = sandbox.seed.products.first(where: { $0.x3Item == nil }) {
      lines.append("  \(me) add-item \(unknown.sku)\(hint)        # the X3 item of the unknown SKU")
    }
    if let closed = sandbox.x3.rows("GACCOUNT").first(where: { $0["ENAFLG"] as? Int == 1 }).map({ "\($0["ACC"] ?? "")" }
    ) {
      lines.append("  \(me) enable-account \(closed)\(hint)        # the inactive GL account")
    }
    let buyer = sandbox.seed.customers.first { $0.x3Code != nil }?.email ?? "someone@example.com"
    let sku = sandbox.seed.products.first { $0.x3Item != nil }?.sku ?? "SKU"
    lines += [
      "  \(me) place-order --email \(buyer) --sku \(sku) --qty 2\(hint)",
      "  \(me) fulfil 1001\(hint)  ·  cancel 1001  ·  set-stock \(sku) 12  ·  status   (\(Invocation.mlhost) sandbox --help)",
      "  \(me) woo-order --email \(buyer) --sku \(sku)\(hint)  ·  woo-status 1001 shipped   (the WooCommerce store)",
    ]
    return lines.joined(separator: "\n")
  }

  static func seconds(_ s: Double) -> String { s == s.rounded() ? "\(Int(s)) s" : "\(s) s" }
}

/// Where the running sandbox is, and how to call it.
struct SandboxOptions: ParsableArguments {
  @Option(help: "State folder of the `run --sandbox` to talk to.") var state = SandboxCommand.defaultState

  var notRunning: String {
    "no sandbox runs on \(state): start `\(Invocation.mlhost) run connectors/x3_shopify.lua --sandbox"
      + (state == SandboxCommand.defaultState ? "" : " --state \(state)") + "`"
  }

  /// Calls a control route of `system` ("shopify" or "x3"); answers the JSON object it returned.
  func call(_ system: String, _ method: String, _ path: String, body: [String: Any]? = nil) async throws -> [String:
    Any]
  {
    let file = URL(fileURLWithPath: state).appendingPathComponent(SandboxCommand.controlFile)
    guard let data = try? Data(contentsOf: file),
      let info = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let base = info[system] as? String, let token = info["token"] as? String, let url = URL(string: base + path)
    else { throw HostError(.setup, notRunning) }
    var request = URLRequest(url: url)
    request.httpMethod = method
    request.setValue(token, forHTTPHeaderField: "X-MLHost-Sandbox-Token")
    if let body {
      request.httpBody = try JSONSerialization.data(withJSONObject: body)
      request.setValue("application/json", forHTTPHeaderField: "Content-Type")
    }
    let answer: Data
    let response: URLResponse
    do {
      (answer, response) = try await URLSession.shared.data(for: request)
    } catch {
      throw HostError(.setup, "\(notRunning) (the sandbox recorded in \(file.path) does not answer)")
    }
    let object = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any] ?? [:]
    let status = (response as? HTTPURLResponse)?.statusCode ?? 0
    guard (200..<300).contains(status) else {
      throw HostError(.input, "\(system): \(object["error"] as? String ?? "HTTP \(status)")")
    }
    return object
  }

  var replay: String { "\(Invocation.mlhost) replay --failed --state \(state)" }

  /// An order argument: `1001` or `#1001`.
  static func number(_ order: String) throws -> Int {
    guard let n = Int(order.drop { $0 == "#" }) else {
      throw ValidationError("ORDER is an order number: 1001 or #1001")
    }
    return n
  }

  /// Changes store order `order` as the merchant would; the store sends orders/updated.
  func change(_ order: String, _ change: [String: Any], done: String) async throws {
    let n = try Self.number(order)
    let answer = try await call("shopify", "POST", "/sandbox/shopify/orders/\(n)", body: change)
    print("Shopify order #\(n) \(done); orders/updated sent to \(answer["delivered_to"] as? Int ?? 0) subscription(s)")
  }

  func account(_ code: String, enabled: Bool) async throws {
    _ = try await call("x3", "POST", "/sandbox/x3/accounts/\(code)", body: ["enabled": enabled])
    print(
      "X3 GL account \(code) \(enabled ? "enabled" : "disabled")"
        + (enabled ? "; replay what waited for it: \(replay)" : ""))
  }
}

extension SandboxCommand {
  struct AddCustomer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "add-customer", abstract: "Adds an X3 customer with this email.")
    @Argument(help: "The customer's email (the connector finds X3 customers by it).") var email: String
    @Option(help: "The customer's name (default: from the email).") var name: String?
    @Option(help: "The X3 customer code (default: the next free Cnnnn).") var code: String?
    @OptionGroup var sandbox: SandboxOptions

    func run() async throws {
      var body: [String: Any] = ["EMAIL": email]
      if let name { body["BPCNAM"] = name }
      if let code { body["BPCNUM"] = code }
      let answer = try await sandbox.call("x3", "POST", "/sandbox/x3/customers", body: body)
      print(
        "X3 customer \(answer["BPCNUM"] as? String ?? "?") (\(answer["BPCNAM"] as? String ?? "")) added with email \(email); replay what waited for it: \(sandbox.replay)"
      )
    }
  }

  struct EnableAccount: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "enable-account", abstract: "Enables an X3 GL account.")
    @Argument(help: "The GL account (706100).") var account: String
    @OptionGroup var sandbox: SandboxOptions
    func run() async throws { try await sandbox.account(account, enabled: true) }
  }

  struct DisableAccount: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "disable-account", abstract: "Disables an X3 GL account.")
    @Argument(help: "The GL account (701000).") var account: String
    @OptionGroup var sandbox: SandboxOptions
    func run() async throws { try await sandbox.account(account, enabled: false) }
  }

  struct AddItem: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "add-item", abstract: "Adds an X3 item, with a stock row at the sandbox's site.")
    @Argument(help: "The X3 item code (the SKU, unless the connector's item mapping names another).") var item: String
    @Option(help: "Its description.") var name: String?
    @Option(
      name: .customLong("class"), help: "Its product class (TCLCOD), which the connector maps to a GL sales account.")
    var productClass = "GOODS"
    @Option(help: "Its stock.") var qty = 0
    @OptionGroup var sandbox: SandboxOptions

    func run() async throws {
      var body: [String: Any] = ["ITMREF": item, "TCLCOD": productClass, "QTYSTU": qty]
      if let name { body["ITMDES1"] = name }
      let answer = try await sandbox.call("x3", "POST", "/sandbox/x3/items", body: body)
      print(
        "X3 item \(item) added (class \(productClass), stock \(qty) at \(answer["STOFCY"] as? String ?? "")); replay what waited for it: \(sandbox.replay)"
      )
    }
  }

  struct SetStock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set-stock", abstract: "Sets an item's X3 stock (journaled as a stock movement).")
    @Argument(help: "The X3 item code (the SKU, unless the connector's item mapping names another).") var item: String
    @Argument(help: "The new quantity.") var qty: Int
    @OptionGroup var sandbox: SandboxOptions

    func run() async throws {
      let answer = try await sandbox.call("x3", "POST", "/sandbox/x3/stock", body: ["ITMREF": item, "QTYSTU": qty])
      print(
        "X3 stock of \(item) at \(answer["STOFCY"] as? String ?? ""): \(answer["was"] as? Int ?? 0) → \(qty); the connector pushes it to Shopify at its next stock poll"
      )
    }
  }

  struct PlaceOrder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "place-order", abstract: "Places a Shopify order (the store sends orders/create).")
    @Option(help: "The buyer's email.") var email: String
    @Option(help: "The SKU bought.") var sku: String
    @Option(help: "How many.") var qty = 1
    @Flag(help: "Leave it awaiting payment (`sandbox pay` pays it).") var pending = false
    @OptionGroup var sandbox: SandboxOptions

    func run() async throws {
      let answer = try await sandbox.call(
        "shopify", "POST", "/sandbox/shopify/orders",
        body: [
          "email": email, "sku": sku, "quantity": qty, "financial_status": pending ? "pending" : "paid",
        ])
      print(
        "Shopify order \(answer["name"] as? String ?? "?") placed by \(email): \(qty) × \(sku), \(pending ? "pending" : "paid"); orders/create sent to \(answer["delivered_to"] as? Int ?? 0) subscription(s)"
      )
    }
  }

  struct Pay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "pay", abstract: "Marks a Shopify order paid (the store sends orders/updated).")
    @Argument(help: "The order number (1001).") var order: String
    @OptionGroup var sandbox: SandboxOptions
    func run() async throws { try await sandbox.change(order, ["financial_status": "paid"], done: "paid") }
  }

  struct Fulfil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "fulfil", abstract: "Fulfils a Shopify order (the store sends orders/updated).")
    @Argument(help: "The order number (1001).") var order: String
    @OptionGroup var sandbox: SandboxOptions
    func run() async throws { try await sandbox.change(order, ["fulfill": true], done: "fulfilled") }
  }

  struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "cancel", abstract: "Cancels a Shopify order (the store sends orders/updated).")
    @Argument(help: "The order number (1001).") var order: String
    @OptionGroup var sandbox: SandboxOptions
    func run() async throws { try await sandbox.change(order, ["cancel": true], done: "cancelled") }
  }

  struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "status", abstract: "What each simulated system holds.")
    @OptionGroup var sandbox: SandboxOptions

    func run() async throws {
      for system in ["shopify", "x3", "woocommerce"] {
        let counts = try await sandbox.call(system, "GET", "/sandbox/\(system)/status")
        print(
          "\(system): "
            + counts.keys.sorted().map { "\($0.replacingOccurrences(of: "_", with: " ")) \(counts[$0] ?? 0)" }.joined(
              separator: ", "))
      }
    }
  }
}
