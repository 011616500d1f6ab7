import Foundation
import MLHostCore

/// Magento's `searchCriteria` query parameters (API facts §3.3): filter groups ANDed, the filters inside one group
/// ORed, `condition_type` (eq by default), `sortOrders`, `pageSize` and `currentPage` from 1. A page past the end
/// is empty since 2.4.0 and repeats the last page before (magento#3787) — the store's `version` decides.
struct AdobeSearchCriteria {
  struct Filter {
    var field: String
    var value: String
    var condition: String
  }

  var groups: [[Filter]] = []
  var sort: [(field: String, ascending: Bool)] = []
  var pageSize: Int?
  var currentPage = 1

  static let conditions: Set<String> = [
    "eq", "finset", "from", "to", "gt", "gteq", "in", "like", "lt", "lteq", "moreq", "neq", "nfinset", "nin", "nlike",
    "notnull", "null",
  ]

  struct Invalid: Error {
    let message: String
    let parameters: [String]
  }

  /// Parses `searchCriteria[...]` from the decoded query pairs; a malformed one is Magento's 400.
  init(_ pairs: [(String, String)]) throws {
    var groups: [Int: [Int: [String: String]]] = [:]
    var sorts: [Int: [String: String]] = [:]
    for (name, value) in pairs where name.hasPrefix("searchCriteria") {
      let parts = Self.brackets(name)
      guard parts.first == "searchCriteria" else { continue }
      switch parts.count > 1 ? parts[1] : "" {
      case "filter_groups", "filterGroups":
        guard parts.count == 6, let g = Int(parts[2]), parts[3] == "filters", let f = Int(parts[4]) else {
          throw Invalid(message: "\"%1\" is not a valid search criteria parameter.", parameters: [name])
        }
        groups[g, default: [:]][f, default: [:]][parts[5]] = value
      case "sortOrders", "sort_orders":
        guard parts.count == 4, let i = Int(parts[2]) else {
          throw Invalid(message: "\"%1\" is not a valid search criteria parameter.", parameters: [name])
        }
        sorts[i, default: [:]][parts[3]] = value
      case "pageSize", "page_size":
        guard let n = Int(value), n >= 0 else {
          throw Invalid(
            message: "The \"%1\" value's type is invalid. The \"%2\" type was expected. Verify and try again.",
            parameters: [value, "int"])
        }
        pageSize = n
      case "currentPage", "current_page":
        guard let n = Int(value) else {
          throw Invalid(
            message: "The \"%1\" value's type is invalid. The \"%2\" type was expected. Verify and try again.",
            parameters: [value, "int"])
        }
        currentPage = max(n, 1)
      default:
        throw Invalid(message: "\"%1\" is not a valid search criteria parameter.", parameters: [name])
      }
    }
    for g in groups.keys.sorted() {
      var filters: [Filter] = []
      for f in groups[g]!.keys.sorted() {
        let spec = groups[g]![f]!
        guard let field = spec["field"], !field.isEmpty else {
          throw Invalid(message: "\"%fieldName\" is required. Enter and try again.", parameters: ["field"])
        }
        let condition = spec["condition_type"] ?? spec["conditionType"] ?? "eq"
        guard Self.conditions.contains(condition) else {
          throw Invalid(message: "Invalid condition type: %1", parameters: [condition])
        }
        filters.append(Filter(field: field, value: spec["value"] ?? "", condition: condition))
      }
      self.groups.append(filters)
    }
    for i in sorts.keys.sorted() {
      guard let field = sorts[i]!["field"] else { continue }
      sort.append((field, (sorts[i]!["direction"] ?? "ASC").uppercased() != "DESC"))
    }
  }

  /// `a[b][c]` → ["a", "b", "c"].
  static func brackets(_ name: String) -> [String] {
    var out: [String] = []
    var current = ""
    for c in name {
      if c == "[" || c == "]" {
        if !current.isEmpty || c == "]" { out.append(current) }
        current = ""
      } else {
        current.append(c)
      }
    }
    if !current.isEmpty { out.append(current) }
    return out.filter { !$0.isEmpty }
  }

  /// The rows that pass every group, sorted, and the page asked for; `total` counts them all.
  func apply(_ rows: [[String: Any]], repeatLastPage: Bool, defaultPageSize: Int?) -> (
    page: [[String: Any]], total: Int
  ) {
    var matched = rows.filter { row in groups.allSatisfy { group in group.contains { Self.matches(row, $0) } } }
    let order = sort.isEmpty ? [("entity_id", true), ("id", true)] : sort
    matched.sort { a, b in
      for (field, ascending) in order {
        let c = Self.compare(a[field], b[field])
        if c != 0 { return ascending ? c < 0 : c > 0 }
      }
      return false
    }
    let total = matched.count
    guard let size = pageSize ?? defaultPageSize, size > 0 else { return (matched, total) }
    var page = currentPage
    let pages = max(1, (total + size - 1) / size)
    if page > pages {
      if !repeatLastPage { return ([], total) }
      page = pages  // 2.3: the last page again
    }
    let from = (page - 1) * size
    return (Array(matched[min(from, total)..<min(from + size, total)]), total)
  }

  static func text(_ v: Any?) -> String? {
    switch v {
    case nil, is NSNull: return nil
    case let d as ExactDecimal: return d.description
    case let b as Bool: return b ? "1" : "0"
    default: return "\(v!)"
    }
  }

  /// Numbers compare as numbers, the rest as text (dates are `YYYY-MM-DD HH:MM:SS`, which sorts as text).
  static func compare(_ a: Any?, _ b: Any?) -> Int {
    guard let x = text(a) else { return text(b) == nil ? 0 : -1 }
    guard let y = text(b) else { return 1 }
    if let dx = ExactDecimal(x), let dy = ExactDecimal(y) { return dx < dy ? -1 : (dx == dy ? 0 : 1) }
    return x < y ? -1 : (x == y ? 0 : 1)
  }

  static func like(_ text: String, _ pattern: String) -> Bool {
    // `%` any run, `_` one character, case-insensitive as MySQL's default collation.
    let t = Array(text.lowercased())
    let p = Array(pattern.lowercased())
    var memo: [Int: Bool] = [:]
    func go(_ i: Int, _ j: Int) -> Bool {
      if j == p.count { return i == t.count }
      if let m = memo[i * (p.count + 1) + j] { return m }
      let r: Bool
      if p[j] == "%" {
        r = go(i, j + 1) || (i < t.count && go(i + 1, j))
      } else {
        r = i < t.count && (p[j] == "_" || p[j] == t[i]) && go(i + 1, j + 1)
      }
      memo[i * (p.count + 1) + j] = r
      return r
    }
    return go(0, 0)
  }

  static func matches(_ row: [String: Any], _ f: Filter) -> Bool {
    let value = row[f.field]
    let list = f.value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    switch f.condition {
    case "null": return text(value) == nil
    case "notnull": return text(value) != nil
    case "eq": return text(value).map { compare($0, f.value) == 0 } ?? false
    case "neq": return text(value).map { compare($0, f.value) != 0 } ?? true
    case "gt": return text(value).map { compare($0, f.value) > 0 } ?? false
    case "gteq", "from", "moreq": return text(value).map { compare($0, f.value) >= 0 } ?? false
    case "lt": return text(value).map { compare($0, f.value) < 0 } ?? false
    case "lteq", "to": return text(value).map { compare($0, f.value) <= 0 } ?? false
    case "in": return text(value).map { v in list.contains { compare(v, $0) == 0 } } ?? false
    case "nin": return text(value).map { v in !list.contains { compare(v, $0) == 0 } } ?? true
    case "like": return text(value).map { like($0, f.value) } ?? false
    case "nlike": return text(value).map { !like($0, f.value) } ?? true
    case "finset": return text(value).map { $0.split(separator: ",").map(String.init).contains(f.value) } ?? false
    case "nfinset": return text(value).map { !$0.split(separator: ",").map(String.init).contains(f.value) } ?? true
    default: return false
    }
  }

  /// The `search_criteria` echoed in a search answer.
  var echo: [String: Any] {
    var out: [String: Any] = [
      "filter_groups": groups.map { g in
        ["filters": g.map { ["field": $0.field, "value": $0.value, "condition_type": $0.condition] }]
      },
      "current_page": currentPage,
    ]
    if !sort.isEmpty {
      out["sort_orders"] = sort.map { ["field": $0.field, "direction": $0.ascending ? "ASC" : "DESC"] }
    }
    if let pageSize { out["page_size"] = pageSize }
    return out
  }
}
