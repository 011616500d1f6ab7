import Foundation

/// How the host talks to one external system account, as the deployment's settings declare it: where it is,
/// which credential signs, TLS and proxy for on-premise servers, whether it may be written to, and the budgets
/// every job of the VM shares.
public struct SystemProfile: Sendable, Equatable {
  public var name: String
  /// Prefix for `path` requests; absolute URLs must stay on its origin, so a credential never leaves its system.
  public var baseURL: String?
  public var credential: String?
  public var readOnly = false
  public var verifyTLS = true
  public var caBundle: String?
  public var clientCertificate: String?
  public var clientKey: String?
  public var proxy: String?
  public var timeout: Double?
  /// Requests in flight at once (Sage 300 wants 1–2).
  public var maxConcurrent: Int?
  /// Requests per second, with bursts up to `burst`.
  public var rate: Double?
  public var burst: Double?
  /// Shopify GraphQL calculated-cost bucket: starting size and restore rate, corrected by every response.
  public var costBucket: (size: Double, restore: Double)?
  /// Extra attempts for a retryable failure within one request.
  public var retries = 3

  public init(name: String, credential: String? = nil, retries: Int = 3) {
    self.name = name
    self.credential = credential
    self.retries = retries
  }

  public static func == (a: SystemProfile, b: SystemProfile) -> Bool {
    a.name == b.name && a.baseURL == b.baseURL && a.credential == b.credential && a.readOnly == b.readOnly
      && a.verifyTLS == b.verifyTLS && a.caBundle == b.caBundle && a.clientCertificate == b.clientCertificate
      && a.clientKey == b.clientKey && a.proxy == b.proxy && a.timeout == b.timeout
      && a.maxConcurrent == b.maxConcurrent
      && a.rate == b.rate && a.burst == b.burst && a.costBucket?.size == b.costBucket?.size
      && a.costBucket?.restore == b.costBucket?.restore && a.retries == b.retries
  }

  /// The origin (scheme, host, port) of an http(s) URL, as credentials are bound to it: one definition for both.
  package static func origin(_ url: String) -> String? { CredentialOrigin.of(url) }

  /// Whether a request changes something on the server. GraphQL reads travel as POST, so a POST whose JSON body
  /// is a GraphQL query (not a mutation) reads.
  package static func mutates(method: String, body: [UInt8]?) -> Bool {
    switch method {
    case "GET", "HEAD", "OPTIONS": return false
    case "POST":
      guard let body, let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
        let query = object["query"] as? String
      else { return true }
      return firstKeyword(query) == "mutation"
    default: return true
    }
  }

  /// The first word of a GraphQL document after whitespace and comments (`{` for the query shorthand).
  static func firstKeyword(_ document: String) -> String {
    var rest = Substring(document)
    while true {
      rest = rest.drop { $0.isWhitespace || $0 == "," }
      guard rest.first == "#" else { break }
      rest = rest.drop { $0 != "\n" }
    }
    if rest.first == "{" { return "{" }
    return String(rest.prefix { $0.isLetter })
  }
}
