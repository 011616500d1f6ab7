import MLHostCore

/// The kinds of credential the vault holds, by the name `creds set --type` takes and `credentials.json` stores.
public enum CredentialType: String, Sendable, CaseIterable, CustomStringConvertible {
  case basic
  case bearer
  case oauth1
  case oauth2_client_credentials
  case oauth2_refresh_token
  /// Sage X3 connected app: a JWT signed with the app's secret, exchanged for nothing (sent as the bearer).
  case x3_jwt
  case shopify_token
  case woocommerce
  /// Adobe Commerce admin login: user name and password exchanged at `token_url` for a bearer token.
  case adobe_admin
  case webhook_secret
  /// The Adobe Commerce Webhooks module's public key (PEM).
  case adobe_webhook_key
  /// Adobe I/O Events: the two public keys (PEM) the deliveries are signed with, and the client id they are for.
  case adobe_io_events

  public var description: String { rawValue }

  /// The fields a credential of this type must have.
  public var requiredFields: [String] {
    switch self {
    case .basic: ["user", "password"]
    case .bearer: ["token"]
    case .oauth1: ["consumer_key", "consumer_secret", "token", "token_secret"]
    case .oauth2_client_credentials: ["token_url", "client_id", "client_secret"]
    case .oauth2_refresh_token: ["token_url", "client_id", "client_secret", "refresh_token"]
    case .x3_jwt: ["client_id", "secret", "user", "endpoint"]
    case .shopify_token: ["access_token"]
    case .woocommerce: ["consumer_key", "consumer_secret"]
    case .adobe_admin: ["token_url", "username", "password"]
    case .webhook_secret: ["secret"]
    case .adobe_webhook_key: ["public_key"]
    case .adobe_io_events: ["public_key1", "public_key2", "client_id"]
    }
  }

  /// Whether it is applied to outbound requests, and so must be bound to origins; the others (webhook secrets and
  /// keys) only check what arrives.
  public var signsRequests: Bool {
    switch self {
    case .webhook_secret, .adobe_webhook_key, .adobe_io_events: false
    default: true
    }
  }

  /// Whether the host obtains a token with it, which a 401 makes it fetch anew.
  var refreshable: Bool {
    switch self {
    case .oauth2_client_credentials, .oauth2_refresh_token, .x3_jwt, .adobe_admin: true
    default: false
    }
  }

  /// The type named `name`, or an error listing the types there are.
  public static func named(_ name: String) throws -> CredentialType {
    guard let type = CredentialType(rawValue: name) else {
      throw HostError(
        .input,
        "unknown credential type '\(name)'; one of: "
          + allCases.map(\.rawValue).sorted().joined(separator: ", "))
    }
    return type
  }
}
