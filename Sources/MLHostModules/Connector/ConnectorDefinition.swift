import Foundation
import MLHostCore
import MLHostLua
import MLHostSystems
import MLHostVM

/// What a connector script declared: its name, settings, jobs with their schedules, and webhooks.
public struct ConnectorDefinition: Sendable {
  public var name: String
  public var description: String
  public var settings: SettingsSchema.Value
  public var jobs: [String: JobDeclaration] = [:]
  /// Declaration order, for listings.
  public var jobOrder: [String] = []
  public var webhooks: [WebhookDeclaration] = []
  /// Record handlers by record kind (`c:handler`), as registry references.
  var handlers: [String: Int32] = [:]
  /// The credentials the settings name, as (settings path, credential name): `mlhost check` looks each up in the
  /// vault.
  public var credentials: [SettingsCredential] = []

  public var schedules: [(job: String, spec: ScheduleSpec)] {
    jobOrder.compactMap { name in jobs[name]?.schedule.map { (name, $0) } }
  }
}

/// A credential named in settings: its settings path, its name and where the settings file names it (`x.toml:7: `).
public struct SettingsCredential: Sendable {
  public var path: String
  public var name: String
  public var location: String
}

public struct JobDeclaration: Sendable {
  public var name: String
  public var schedule: ScheduleSpec?
  /// `file:line` of the declaration.
  public var declaredAt: String
  /// Registry reference of the job function in the VM that declared it.
  package let functionRef: Int32
}

public struct WebhookDeclaration: Sendable {
  public enum System: String, Sendable, CaseIterable {
    case shopify, woocommerce, adobe_commerce, hmac
    /// Adobe I/O Events (asynchronous Commerce events): two RSA signatures over the raw body, a challenge handshake.
    case adobe_io
  }

  public var system: System
  public var topic: String
  /// The last part of its URL, `/hooks/<connector>/<name>`: `opts.name`, else the topic with `/` and `.` as `_`.
  public var name: String
  /// The job that runs each delivery: `webhook.<system>.<topic>`.
  public var job: String
  /// Name of the credential that holds the signing secret (or Adobe's public key).
  public var secret: String?
  /// The signature header, for the generic `hmac` preset.
  public var header: String?

  public init(system: System, topic: String, name: String, job: String, secret: String? = nil, header: String? = nil) {
    self.system = system
    self.topic = topic
    self.name = name
    self.job = job
    self.secret = secret
    self.header = header
  }
}

/// What natives reach through their VM besides the Lua state: one per VM, made on first use.
package final class VMServices: VMExtension {
  /// The deployment settings as read from the config file, before validation.
  package var settings: LuaValue = .nil_
  /// Where relative paths in the settings (CSV mapping tables) are resolved.
  package var settingsBase: URL?
  /// Where the settings came from, for messages.
  package var settingsSource = "settings"
  /// The line of each key in the settings file (`x3.url` → 12), so that problems point at it.
  package var settingsLines: [String: Int] = [:]
  /// Settings given with `--set` (dotted paths): their problems point at the option, not the file.
  package var settingsOverrides: Set<String> = []
  package var definition: ConnectorDefinition?
  /// The store and retry policy, when the VM runs under a host with durable state.
  package var runtime: JobRuntime?
  /// The version's content hash, for audit rows.
  package var versionHash = ""
  /// The job metatable and `replay` from job.lua, as registry references.
  package var jobMetatable: Int32 = 0
  package var replayRecord: Int32 = 0
  /// External systems declared with `mlhost.http.system`, with the budgets all jobs of the VM share.
  var systems: [String: SystemClient] = [:]

  package init() {}
}

extension LuaVM {
  /// The natives' services of this VM.
  package var services: VMServices { self.extension(VMServices.self) }
}
