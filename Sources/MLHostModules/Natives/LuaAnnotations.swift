import MLHostCore

/// The LuaLS annotations of the host's own Lua (job.lua: `mlhost.Job`, `mlhost.Record` and their methods), read so
/// that `mlhost docs` documents the Lua half of the API from the same source as the code.
struct LuaAnnotations {
  struct Field {
    var name: String
    var type: String
  }

  struct Class {
    var name: String
    /// The local the file defines it as (`Job`), which its methods are declared on.
    var local: String
    var fields: [Field]
  }

  struct Method {
    var owner: String
    var name: String
    /// `---` lines without a tag, joined.
    var summary: String
    /// The parameters as declared: `@param` lines when the method has any (undocumented trailing parameters are
    /// the host's own), else the function's signature.
    var params: [(name: String, type: String, doc: String)]
    var returns: [(type: String, doc: String)]
    /// The annotation lines as written, for the stubs.
    var annotations: [String]
  }

  var classes: [Class] = []
  var methods: [Method] = []

  /// Reads `---` blocks followed by `---@class` + `local X = {}`, or by `function X:name(...)` of a class's local.
  init(_ text: String) {
    var block: [String] = []
    var pendingClass: Class?
    for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
      let line = raw.trimmingCharacters(in: .whitespaces)
      if line.hasPrefix("---") {
        block.append(line)
        continue
      }
      defer { block = [] }
      if let cls = block.first(where: { $0.hasPrefix("---@class ") }) {
        let name = String(cls.dropFirst("---@class ".count)).split(separator: " ").first.map(String.init) ?? ""
        let fields = block.filter { $0.hasPrefix("---@field ") }.map { f -> Field in
          let parts = f.dropFirst("---@field ".count).split(separator: " ", maxSplits: 1).map(String.init)
          return Field(name: parts.first ?? "", type: parts.count > 1 ? parts[1] : "any")
        }
        pendingClass = Class(name: name, local: "", fields: fields)
      }
      if var cls = pendingClass, line.hasPrefix("local "), line.hasSuffix("= {}") {
        cls.local = line.dropFirst("local ".count).split(separator: " ").first.map(String.init) ?? ""
        classes.append(cls)
        pendingClass = nil
        continue
      }
      guard line.hasPrefix("function "), let colon = line.firstIndex(of: ":"), let open = line.firstIndex(of: "("),
        let close = line.firstIndex(of: ")"), colon < open, !block.isEmpty
      else { continue }
      let owner = String(line[line.index(line.startIndex, offsetBy: "function ".count)..<colon])
      guard classes.contains(where: { $0.local == owner }) else { continue }
      let name = String(line[line.index(after: colon)..<open])
      let signature = line[line.index(after: open)..<close].split(separator: ",").map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      var params: [(String, String, String)] = []
      var returns: [(String, String)] = []
      var summary: [String] = []
      for a in block {
        let body = a.dropFirst(3).trimmingCharacters(in: .whitespaces)
        if body.hasPrefix("@param ") {
          let parts = body.dropFirst("@param ".count).split(separator: " ", maxSplits: 2).map(String.init)
          params.append((parts.first ?? "", parts.count > 1 ? parts[1] : "any", parts.count > 2 ? parts[2] : ""))
        } else if body.hasPrefix("@return ") {
          let parts = body.dropFirst("@return ".count).split(separator: " ", maxSplits: 1).map(String.init)
          var doc = parts.count > 1 ? parts[1] : ""
          if doc.hasPrefix("# ") { doc.removeFirst(2) }
          returns.append((parts.first ?? "", doc))
        } else if !body.hasPrefix("@") {
          summary.append(body)
        }
      }
      if params.isEmpty { params = signature.map { ($0, "any", "") } }
      methods.append(
        Method(
          owner: owner, name: name, summary: summary.joined(separator: " "), params: params, returns: returns,
          annotations: block))
    }
  }

  /// job.lua as the host embeds it.
  static let job = LuaAnnotations(String(decoding: PackageResources.job_lua, as: UTF8.self))
}
