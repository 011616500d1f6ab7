import Foundation

/// A connector's package: the entry script (`connectors/x3_shopify.lua`) and the folder of the same name beside it
/// (`connectors/x3_shopify/`) holding its schema, example settings, mapping tables, README and test cases.
public struct ConnectorPackage: Sendable {
  /// The entry script.
  public let script: URL

  public init(script: URL) { self.script = script.standardizedFileURL }

  /// The script's name without `.lua` (`x3_shopify`).
  public var name: String { script.deletingPathExtension().lastPathComponent }

  /// The package folder beside the script.
  public var folder: URL { script.deletingPathExtension() }

  /// The folder of the connector's test cases (`connectors/x3_shopify/tests/`).
  public var testsFolder: URL { folder.appendingPathComponent("tests") }

  /// The settings files tried when none is given, in order: the deployment's own beside the script
  /// (`connectors/x3_shopify.toml`), the deployment's own in the package (`connectors/x3_shopify/settings.toml`), and
  /// the package's example (`connectors/x3_shopify/settings.example.toml`), so a fresh checkout runs `--sandbox`,
  /// `check` and `test`.
  public var settingsCandidates: [URL] {
    [
      script.deletingPathExtension().appendingPathExtension("toml"),
      folder.appendingPathComponent("settings.toml"),
      folder.appendingPathComponent("settings.example.toml"),
    ]
  }

  /// The first of `settingsCandidates` that exists; nil: the schema's defaults alone.
  public var defaultSettingsFile: URL? {
    settingsCandidates.first { FileManager.default.fileExists(atPath: $0.path) }
  }
}
