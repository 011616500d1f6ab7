import ArgumentParser
import Foundation

/// `mlhost sandbox woo-order` / `woo-status`: the simulated WooCommerce store's part of `mlhost sandbox`.
extension SandboxCommand {
  struct WooOrder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "woo-order", abstract: "Places a WooCommerce order (the store sends order.created).")
    @Option(help: "The buyer's billing email.") var email: String
    @Option(help: "The SKU bought.") var sku: String
    @Option(help: "How many.") var qty = 1
    @Option(help: "Its status: processing (paid, the default), pending, on-hold.") var status = "processing"
    @OptionGroup var sandbox: SandboxOptions

    func run() async throws {
      let answer = try await sandbox.call(
        "woocommerce", "POST", "/sandbox/woocommerce/orders",
        body: [
          "email": email, "sku": sku, "quantity": qty, "status": status,
        ])
      print(
        "WooCommerce order \(answer["id"] as? Int ?? 0) placed by \(email): \(qty) × \(sku), \(status); order.created sent"
      )
    }
  }

  struct WooStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "woo-status",
      abstract: "Moves a WooCommerce order to a status, as the merchant would (the store sends order.updated).")
    @Argument(help: "The order id (1001).") var order: String
    @Argument(help: "processing, completed, shipped, delivered, cancelled, refunded, on-hold…") var status: String
    @OptionGroup var sandbox: SandboxOptions

    func run() async throws {
      let n = try SandboxOptions.number(order)
      _ = try await sandbox.call("woocommerce", "POST", "/sandbox/woocommerce/orders/\(n)", body: ["status": status])
      print("WooCommerce order \(n) is \(status); order.updated sent")
    }
  }
}
