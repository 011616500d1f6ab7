import ArgumentParser
import Foundation
import MLHostModules

struct DocsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "docs",
    abstract: "Writes the Lua API reference (Markdown) and the LuaLS stubs from the native declarations.")

  @Option(help: "Where the Markdown reference goes.")
  var markdown = "docs/LUA_API.md"

  @Option(help: "Where the LuaLS `---@meta` stubs go.")
  var stubs = "docs/lua/mlhost.meta.lua"

  func run() throws {
    for (path, text) in [(markdown, APIReference.markdown()), (stubs, APIReference.luaStubs())] {
      let url = URL(fileURLWithPath: path)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try text.write(to: url, atomically: true, encoding: .utf8)
      print("wrote \(path)")
    }
  }
}
