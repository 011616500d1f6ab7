import Foundation
import MLHostCore

/// Where a credential may travel: a scheme, host and port (`https://x3.example.com:8124`). The port is always
/// explicit (80 and 443 filled in), so `https://shop.example.com` and `https://shop.example.com:443/admin` are the
/// same origin and `http://…` is another.
public enum CredentialOrigin {
  /// The origin of an http(s) URL, or nil when it has none.
  public static func of(_ url: String) -> String? {
    guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(),
      scheme == "http" || scheme == "https",
      let host = c.host?.lowercased(), !host.isEmpty
    else { return nil }
    let port = c.port ?? (scheme == "https" ? 443 : 80)
    return "\(scheme)://\(host):\(port)"
  }

  /// An origin as an operator writes it (`--origin`): scheme, host and optional port, nothing after but a '/'.
  public static func parse(_ text: String) throws -> String {
    let t = text.trimmingCharacters(in: .whitespaces)
    guard let c = URLComponents(string: t), let origin = of(t), c.user == nil, c.password == nil, c.query == nil,
      c.fragment == nil, c.path.isEmpty || c.path == "/"
    else {
      throw HostError(
        .input, "'\(text)' is not an origin: give scheme, host and port only, e.g. https://x3.example.com:8124")
    }
    return origin
  }
}

extension Credential {
  /// Why this credential must not go to `url`, or nil when `url` is on one of its origins. Names the credential
  /// and the refused origin, never a secret.
  public func refusal(toward url: String) -> String? {
    guard let origin = CredentialOrigin.of(url) else {
      return "credential '\(name)' is not attached to \(url): not an http(s) URL"
    }
    if origins.contains(origin) { return nil }
    if origins.isEmpty {
      return "credential '\(name)' is bound to no origin, so the host attaches it nowhere; if \(origin) is its "
        + "system, bind it: mlhost creds set \(name) --type \(type) --origin \(origin)"
    }
    return "credential '\(name)' refused for \(origin): it is bound to " + origins.joined(separator: ", ")
      + " only (`mlhost creds list` shows the origins of each credential)"
  }
}
