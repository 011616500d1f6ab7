import Foundation

/// Values made by independent implementations (Python's oauthlib and `cryptography`), which tests check mlhost
/// against; the scripts that made them (`make_*.py`) sit beside them in `Tests/MLHostSystemsTests/Fixtures`.
public enum Vectors {
  /// Shopify and WooCommerce webhook signatures and Adobe's RSA key pair (`make_vectors.py`).
  public static func webhooks() throws -> [String: String] { try named("vectors") }
  /// OAuth 1.0a signatures by oauthlib and an HS256 JWT (`make_auth_vectors.py`).
  public static func auth() throws -> [String: String] { try named("auth_vectors") }
  /// Adobe Commerce: OAuth 1.0a headers, RSA signatures by I/O Events over the body and by the Webhooks module over
  /// its base64 (`make_adobe_vectors.py`).
  public static func adobe() throws -> [String: String] { try named("adobe_vectors") }

  private static func named(_ name: String) throws -> [String: String] {
    let url = Repository.root.appendingPathComponent("Tests/MLHostSystemsTests/Fixtures/\(name).json")
    return try JSONDecoder().decode([String: String].self, from: Data(contentsOf: url))
  }
}
