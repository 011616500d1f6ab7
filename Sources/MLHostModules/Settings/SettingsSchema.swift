import Foundation
import MLHostCore
import MLHostLua

/// A connector's declarative settings schema (Kong style: a table of fields beside the connector), and the
/// validation of one deployment's settings against it. Errors name the key.
public struct SettingsSchema: Sendable {
  public indirect enum Kind: Sendable {
    case string, integer, number, boolean, decimal, duration, url, credential
    case oneOf([String])
    case array(Field)
    case map(Field)
    case record([String: Field])
  }

  public struct Field: Sendable {
    public var kind: Kind
    public var required = false
    public var defaultValue: LuaValue?
    public var description = ""
  }

  public var fields: [String: Field]

  /// A validated value: plain Lua data, or a decimal that Lua receives as an exact decimal.
  public indirect enum Value: Sendable {
    case plain(LuaValue)
    case decimal(ExactDecimal)
    case list([Value])
    /// A `map` setting: any keys.
    case table([String: Value])
    /// A `record` (the settings themselves, or a `record` field): reading a key its schema does not declare is an
    /// error in the script, not nil. `path` names it in that error (`settings.x3`).
    case record([String: Value], declared: [String], path: String)
  }

  /// What validation found: the problems, the files it read (CSV mapping tables, watched for reload) and the
  /// credentials the settings name (checked against the vault by `mlhost check`).
  public struct Validation: Sendable {
    public var errors: [String] = []
    public var files: [URL] = []
    /// (settings path, credential name)
    public var credentials: [(path: String, name: String)] = []
  }

  static let secretNames = [
    "password", "passwd", "secret", "token", "api_key", "apikey", "private_key", "client_secret",
  ]

  /// Reads a schema table; every problem is reported, each with its key.
  public init(_ schema: LuaValue) throws {
    var errors: [String] = []
    fields = Self.fields(schema, path: "settings", errors: &errors)
    if !errors.isEmpty { throw SettingsError(problems: errors) }
  }

  private static func fields(_ value: LuaValue, path: String, errors: inout [String]) -> [String: Field] {
    guard case .map(let m) = value else {
      if case .array = value { errors.append("\(path): a schema is a table of named fields, not a list") }
      return [:]
    }
    var out: [String: Field] = [:]
    for (k, v) in m {
      guard let name = k.stringValue else {
        errors.append("\(path): field names are strings")
        continue
      }
      if let field = self.field(v, path: "\(path).\(name)", errors: &errors) { out[name] = field }
    }
    return out
  }

  private static let attributes: Set<String> = [
    "type", "required", "default", "description", "values", "fields", "elements",
  ]

  private static func field(_ spec: LuaValue, path: String, errors: inout [String]) -> Field? {
    let name = path.split(separator: ".").last.map(String.init) ?? path
    if secretNames.contains(where: { name.lowercased().contains($0) }) {
      errors.append(
        "\(path): settings must not hold secrets; declare a credential field and store the secret with `mlhost creds set`"
      )
      return nil
    }
    guard case .map(let m) = spec, let type = spec["type"].stringValue else {
      errors.append("\(path): a field is a table with a `type`")
      return nil
    }
    for key in m.keys {
      if let k = key.stringValue, !attributes.contains(k) { errors.append("\(path): unknown attribute '\(k)'") }
    }
    let kind: Kind
    switch type {
    case "string": kind = .string
    case "integer": kind = .integer
    case "number": kind = .number
    case "boolean": kind = .boolean
    case "decimal": kind = .decimal
    case "duration": kind = .duration
    case "url": kind = .url
    case "credential": kind = .credential
    case "enum":
      guard case .array(let vs) = spec["values"], !vs.isEmpty, vs.allSatisfy({ $0.stringValue != nil }) else {
        errors.append("\(path): an enum lists its `values` as strings")
        return nil
      }
      kind = .oneOf(vs.compactMap(\.stringValue))
    case "array", "map":
      guard let element = field(spec[type == "array" ? "elements" : "values"], path: "\(path)[]", errors: &errors)
      else {
        return nil
      }
      kind = type == "array" ? .array(element) : .map(element)
    case "record":
      kind = .record(fields(spec["fields"], path: path, errors: &errors))
    default:
      errors.append("\(path): unknown type '\(type)'")
      return nil
    }
    var f = Field(kind: kind)
    if case .boolean(let r) = spec["required"] { f.required = r }
    f.description = spec["description"].stringValue ?? ""
    if !spec["default"].isNil {
      f.defaultValue = spec["default"]
      var problems = Validation()
      _ = validate(spec["default"], f, path: path, base: nil, into: &problems)
      errors += problems.errors.map { "default of \($0)" }
    }
    return f
  }

  /// Checks `settings` against the schema, fills defaults and converts durations (to seconds), decimals and
  /// CSV mapping tables (`map` settings given as a path to a two-column CSV, relative to `base`).
  public func validate(_ settings: LuaValue, base: URL?) throws -> Value {
    try validated(settings, base: base).value
  }

  /// `validate`, with the files read and the credentials named on the way.
  public func validated(_ settings: LuaValue, base: URL?) throws -> (value: Value, found: Validation) {
    var found = Validation()
    let record = Field(kind: .record(fields), required: true)
    let value = Self.validate(settings.isNil ? .map([:]) : settings, record, path: "settings", base: base, into: &found)
    if !found.errors.isEmpty { throw SettingsError(problems: found.errors.sorted()) }
    return (value ?? .record([:], declared: [], path: "settings"), found)
  }

  private static func validate(_ v: LuaValue, _ f: Field, path: String, base: URL?, into found: inout Validation)
    -> Value?
  {
    func bad(_ what: String) -> Value? {
      found.errors.append("\(path): \(what)")
      return nil
    }
    switch f.kind {
    case .credential:
      guard let name = v.stringValue else { return bad("a string expected, got \(describe(v))") }
      found.credentials.append((path, name))
    case .string:
      guard v.stringValue != nil else { return bad("a string expected, got \(describe(v))") }
    case .url:
      guard let s = v.stringValue, let u = URL(string: s), u.scheme == "http" || u.scheme == "https", u.host != nil
      else {
        return bad("an http(s) URL expected, got \(describe(v))")
      }
    case .integer:
      guard case .integer = v else { return bad("an integer expected, got \(describe(v))") }
    case .number:
      switch v {
      case .integer, .number: break
      default: return bad("a number expected, got \(describe(v))")
      }
    case .boolean:
      guard case .boolean = v else { return bad("true or false expected, got \(describe(v))") }
    case .decimal:
      switch v {
      case .integer(let i): return .decimal(ExactDecimal(i))
      case .string:
        guard let d = ExactDecimal(v.stringValue!) else { return bad("'\(v.stringValue!)' is not a decimal number") }
        return .decimal(d)
      case .number: return bad("write decimal amounts in quotes (\"0.20\"): a binary float cannot hold them exactly")
      default: return bad("a decimal expected, got \(describe(v))")
      }
    case .duration:
      switch v {
      case .integer(let i) where i >= 0: return .plain(.integer(i))
      case .string(_):
        guard let s = DurationText.seconds(v.stringValue!) else {
          return bad("'\(v.stringValue!)' is not a duration like 30s, 5m or 1h30m")
        }
        // Whole seconds stay integers while they fit one (`Int64(s)` would trap on "99999999999999999999s").
        return .plain(Int64(exactly: s).map(LuaValue.integer) ?? .number(s))
      default: return bad("a duration like \"5m\" expected, got \(describe(v))")
      }
    case .oneOf(let options):
      guard let s = v.stringValue, options.contains(s) else {
        return bad("one of \(options.joined(separator: ", ")) expected, got \(describe(v))")
      }
    case .array(let element):
      guard case .array(let items) = v else {
        if case .map(let m) = v, m.isEmpty { return .list([]) }
        return bad("a list expected, got \(describe(v))")
      }
      return .list(
        items.enumerated().compactMap { i, item in
          validate(item, element, path: "\(path)[\(i + 1)]", base: base, into: &found)
        })
    case .map(let element):
      var entries: [String: LuaValue]
      if let file = v.stringValue, file.hasSuffix(".csv") {
        let url = MappingCSV.url(file, base: base)
        // Read at load, so watched for reload like the settings file itself, whether it loads or not.
        found.files.append(url)
        var records = false
        if case .record = element.kind { records = true }
        do { entries = try MappingCSV.load(file, at: url, records: records) } catch { return bad("\(error)") }
      } else if case .map(let m) = v {
        entries = [:]
        for (k, x) in m {
          guard let key = k.stringValue else { return bad("map keys are strings") }
          entries[key] = x
        }
      } else {
        return bad("a table (or the path of a .csv file) expected, got \(describe(v))")
      }
      var out: [String: Value] = [:]
      for (k, x) in entries {
        if let checked = validate(x, element, path: "\(path).\(k)", base: base, into: &found) { out[k] = checked }
      }
      return .table(out)
    case .record(let fields):
      guard case .map(let m) = v else { return bad("a table expected, got \(describe(v))") }
      var out: [String: Value] = [:]
      for (k, _) in m {
        guard let key = k.stringValue, fields[key] != nil else {
          found.errors.append("\(path).\(k.stringValue ?? "?"): unknown setting (not in the schema)")
          continue
        }
      }
      for (name, field) in fields {
        let given = m[.text(name)] ?? .nil_
        if given.isNil {
          if let d = field.defaultValue {
            out[name] = validate(d, field, path: "\(path).\(name)", base: base, into: &found)
          } else if field.required {
            found.errors.append(
              "\(path).\(name): required setting is missing"
                + (field.description.isEmpty ? "" : " (\(field.description))"))
          }
          continue
        }
        out[name] = validate(given, field, path: "\(path).\(name)", base: base, into: &found)
      }
      return .record(out, declared: fields.keys.sorted(), path: path)
    }
    return .plain(v)
  }

  private static func describe(_ v: LuaValue) -> String {
    switch v {
    case .nil_: return "nothing"
    case .boolean(let b): return "\(b)"
    case .integer(let i): return "\(i)"
    case .number(let d): return "\(d)"
    case .string: return "'\(v.stringValue!)'"
    case .array: return "a list"
    case .map: return "a table"
    }
  }
}

public struct SettingsError: Error, CustomStringConvertible, Sendable {
  public let problems: [String]
  public var description: String { problems.joined(separator: "\n") }
}

/// Mapping tables kept as CSV: a header row, then `key,value` rows (RFC 4180 quoting). A map of records takes
/// one column per field instead: the header names them (`product,item,account`), the first column is the key.
enum MappingCSV {
  /// Where a CSV named in settings is: relative paths are relative to the settings file's folder.
  static func url(_ path: String, base: URL?) -> URL {
    let url =
      path.hasPrefix("/")
      ? URL(fileURLWithPath: path) : (base ?? URL(fileURLWithPath: ".")).appendingPathComponent(path)
    return url.standardizedFileURL
  }

  static func load(_ path: String, at url: URL, records: Bool = false) throws -> [String: LuaValue] {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else {
      throw HostError(.input, "cannot read \(path)")
    }
    var out: [String: LuaValue] = [:]
    let table = rows(text)
    let header = table.first ?? []
    if records && header.count < 2 {
      throw HostError(.input, "\(path):1: expected a header naming the key and the fields")
    }
    for (n, row) in table.enumerated().dropFirst() where !(row.count == 1 && row[0].isEmpty) {
      guard row.count >= 2 else { throw HostError(.input, "\(path):\(n + 1): expected key,value") }
      guard out[row[0]] == nil else { throw HostError(.input, "\(path):\(n + 1): key '\(row[0])' appears twice") }
      if records {
        guard row.count <= header.count else {
          throw HostError(.input, "\(path):\(n + 1): more values than the header names")
        }
        var fields: [LuaValue: LuaValue] = [:]
        for (i, v) in row.enumerated().dropFirst() where !v.isEmpty { fields[.text(header[i])] = .text(v) }
        out[row[0]] = .map(fields)
      } else {
        out[row[0]] = .text(row[1])
      }
    }
    return out
  }

  static func rows(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var chars = text.makeIterator()
    var pending: Character? = nil
    while let ch = pending ?? chars.next() {
      pending = nil
      if quoted {
        if ch == "\"" {
          let next = chars.next()
          if next == "\"" {
            field.append("\"")
          } else {
            quoted = false
            pending = next
          }
        } else {
          field.append(ch)
        }
        continue
      }
      switch ch {
      case "\"": quoted = true
      case ",":
        row.append(field)
        field = ""
      case "\n", "\r\n":
        row.append(field)
        rows.append(row)
        row = []
        field = ""
      case "\r": break
      default: field.append(ch)
      }
    }
    if !field.isEmpty || !row.isEmpty {
      row.append(field)
      rows.append(row)
    }
    return rows.map { $0.map { $0.trimmingCharacters(in: .whitespaces) } }
  }
}
