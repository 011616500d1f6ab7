import Foundation

/// Shopify's calculated query cost (API facts §1.6), as the sandbox store charges it: a scalar or enum costs 0, an
/// object (or a list of objects) 1 plus what is selected in it, a connection — a field with `first`/`last` — 2 plus
/// `first` × the cost of one node, a mutation 10. The requested cost is charged up front and refused over 1000
/// points (MAX_COST_EXCEEDED); the actual cost prices what the answer holds, and the difference is refunded.
struct ShopifyQueryCost {
  static let ceiling = 1000
  static let mutation = 10

  /// The document with its directives (`@idempotent(key: …)`) taken out: they cost nothing.
  static func withoutDirectives(_ query: String) -> String {
    query.replacing(/@[_A-Za-z][_0-9A-Za-z]*(\s*\([^)]*\))?/, with: "")
  }

  /// `first` (or `last`) of a connection field; nil for any other field.
  static func size(_ field: GraphQLField) -> Int? {
    for key in ["first", "last"] {
      if case .int(let n)? = field.argument(key) { return n }
    }
    return nil
  }

  /// What one node of a connection selects: `edges { node { … } }` or `nodes { … }`.
  static func nodeSelection(_ selection: [GraphQLField]) -> [GraphQLField] {
    for f in selection {
      if f.name == "nodes" { return f.selection }
      if f.name == "edges", let node = f.selection.first(where: { $0.name == "node" }) { return node.selection }
    }
    return []
  }

  static func hasNode(_ selection: [GraphQLField]) -> Bool {
    selection.contains { $0.name == "nodes" || ($0.name == "edges" && $0.selection.contains { $0.name == "node" }) }
  }

  /// The cost charged up front.
  static func requested(_ document: GraphQLDocument) -> Int {
    document.isMutation ? mutation : requested(document.fields)
  }

  static func requested(_ fields: [GraphQLField]) -> Int {
    fields.reduce(0) { total, f in
      guard !f.selection.isEmpty else { return total }
      if let n = size(f) {
        return total + 2 + n * (hasNode(f.selection) ? 1 + requested(nodeSelection(f.selection)) : 0)
      }
      return total + 1 + requested(f.selection)
    }
  }

  /// The cost of what the answer `data` holds for the selection.
  static func actual(_ document: GraphQLDocument, data: Any) -> Int {
    document.isMutation ? mutation : actual(document.fields, data)
  }

  static func actual(_ fields: [GraphQLField], _ data: Any?) -> Int {
    guard let object = data as? [String: Any] else { return 0 }
    return fields.reduce(0) { total, f in
      guard !f.selection.isEmpty, let value = object[f.name], !(value is NSNull) else { return total }
      if size(f) != nil {
        let connection = value as? [String: Any] ?? [:]
        let nodes =
          (connection["edges"] as? [[String: Any]])?.compactMap { $0["node"] } ?? connection["nodes"] as? [Any] ?? []
        let each = nodeSelection(f.selection)
        return total + 2 + nodes.reduce(0) { $0 + 1 + actual(each, $1) }
      }
      if let list = value as? [Any] { return total + 1 + (list.map { actual(f.selection, $0) }.max() ?? 0) }
      return total + 1 + actual(f.selection, value)
    }
  }

  /// The `first` of the first field called `name` anywhere in the selection.
  static func size(of name: String, in fields: [GraphQLField]) -> Int? {
    for f in fields {
      if f.name == name, let n = size(f) { return n }
      if let n = size(of: name, in: f.selection) { return n }
    }
    return nil
  }
}
