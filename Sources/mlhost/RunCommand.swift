import ArgumentParser
import Dispatch
import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostServer
import MLHostStore
import MLHostSystems
import ServiceLifecycle

struct RunCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Runs connectors until SIGTERM or SIGINT, then lets running jobs finish and exits 0.",
    discussion:
      "A change to a script, a module it required or its settings file reloads that connector; so does SIGHUP.")

  @OptionGroup var scripts: ScriptOptions
  @OptionGroup var logging: LogOptions

  @OptionGroup var state: StateOptions

  @Option(help: "Address the webhook receiver binds.") var webhookHost = "127.0.0.1"
  @Option(help: "Port of the webhook receiver (0: any free port).") var webhookPort = 8780
  @Option(help: "PEM certificate chain: serve webhooks over HTTPS (with --tls-key).") var tlsCert: String?
  @Option(help: "PEM private key for --tls-cert.") var tlsKey: String?
  @Option(help: "Largest webhook body accepted, in bytes (larger: 413).") var bodyLimit = 1 << 20
  @Option(help: "Address of the admin API.") var adminHost = "127.0.0.1"
  @Option(help: "Port of the admin API (0: any free port).") var adminPort = 8781
  @Option(help: "Webhook connections served at once; beyond it, new connections wait until one closes.")
  var maxConnections = 1024
  @Option(help: "Seconds a webhook connection has to send a complete request head (slow headers are cut off).")
  var headerTimeout: Double = 10
  @Option(help: "Seconds a webhook request has to send its whole body, however steadily it trickles.")
  var bodyTimeout: Double = 30
  @Option(help: "Seconds a kept-alive webhook connection may wait idle for its next request.")
  var idleTimeout: Double = 60

  @Option(help: "Jobs of one connector running at once.")
  var concurrency = 16

  @Option(
    help: "Seconds a claimed job stays this host's without renewal; after a crash, its jobs run again after this.")
  var leaseSeconds: Double = 60

  @Option(help: "Seconds running jobs may take to finish at shutdown or after a reload.")
  var grace: Double = 30

  @Option(
    help:
      "Days succeeded jobs and webhook delivery ids are kept; an older delivery id is taken as new. The audit trail and dead letters are kept."
  )
  var keepDays: Double = 7

  func validate() throws {
    // Delivery ids kept for less than a day would let a sender's retries in again (Shopify retries for 4 hours).
    guard sandboxLiveInterval.isFinite, sandboxLiveInterval >= 0 else {
      throw ValidationError("--sandbox-live-interval takes seconds, 0 or more")
    }
    guard keepDays >= 1 else { throw ValidationError("--keep-days must be at least 1") }
    guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
    for (name, value) in [
      ("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout), ("--idle-timeout", idleTimeout),
    ] {
      guard value.isFinite, value > 0, value <= 86_400 else {
        throw ValidationError("\(name) takes seconds between 0 and 86400")
      }
    }
    guard webhookPort == 0 || webhookPort != adminPort || webhookHost != adminHost else {
      throw ValidationError("--webhook-port and --admin-port are both \(adminPort); give them different ports")
    }
  }

  var webhookListener: ListenerConfig {
    ListenerConfig(
      host: webhookHost, port: webhookPort, certificate: tlsCert, privateKey: tlsKey,
      limits: ConnectionLimits(
        maxConnections: maxConnections, headerTimeout: headerTimeout, bodyTimeout: bodyTimeout,
        idleTimeout: idleTimeout))
  }

  /// The admin API is small and local: a cap of its own, so a flood of webhook connections never reaches it.
  var adminListener: ListenerConfig {
    ListenerConfig(
      host: adminHost, port: adminPort,
      limits: ConnectionLimits(
        maxConnections: 64, headerTimeout: headerTimeout,
        bodyTimeout: bodyTimeout, idleTimeout: idleTimeout))
  }

  /// Everything that would make the run fail later, checked before anything runs (or anything in the state
  /// folder changes): the folder's lock first, then the ports and the admin token.
  func claimStateAndPorts(_ state: StateOptions, logger: Logger) throws -> StateFolder.Lock {
    let lock: StateFolder.Lock
    do { lock = try StateFolder.Lock(state.directory) } catch { throw HostError(.setup, "\(error)") }
    let tokenFile = state.directory.appendingPathComponent("admin.token").path
    if ProcessInfo.processInfo.environment["MLHOST_ADMIN_TOKEN"] != nil
      || FileManager.default.fileExists(atPath: tokenFile)
    {
      _ = try state.adminToken(create: false)  // a token too short to be safe is refused now, not after the start
    }
    guard !dryRun && listening else { return lock }  // a dry run, or a one-shot run not asked to, serves nothing
    do {
      try webhookListener.refuseIfTaken(option: "--webhook")
      try adminListener.refuseIfTaken(option: "--admin")
    } catch { throw HostError(.setup, "\(error)") }
    if !webhookListener.isLoopback && tlsCert == nil {
      logger.warning(
        "WARNING: webhooks are served over plain HTTP on \(webhookHost), reachable from the network: bodies travel unencrypted (give --tls-cert and --tls-key, or put a TLS proxy in front)"
      )
    }
    if !adminListener.isLoopback {
      logger.warning(
        "WARNING: the admin API is served over plain HTTP on \(adminHost), reachable from the network: its bearer token travels unencrypted (keep --admin-host on loopback, or put a TLS proxy in front)"
      )
    }
    if let why = ProcessLimits.raiseOpenFiles() { logger.warning("cannot raise the open-file limit: \(why)") }
    return lock
  }

  @Flag(help: "Do not reload when files change (SIGHUP still reloads).")
  var noWatch = false

  @Flag(
    help:
      "Start the built-in sandbox systems (simulated Shopify and Sage X3 on loopback) and point the connectors at them; the state starts afresh in .mlhost-sandbox unless --state is given."
  )
  var sandbox = false

  @Option(help: "Orders the sandbox store starts with.")
  var sandboxOrders = 24

  @Option(
    help: "Share of sandbox API requests that fail on purpose (0...1): throttling, 5xx, slow answers, revoked tokens.")
  var sandboxFaults: Double = 0

  @Option(help: "Milliseconds the sandbox systems add to every API request.")
  var sandboxLatencyMs: Double = 0

  @Option(
    help:
      "Seconds between the live sandbox's steps (a new order, and an order paid, fulfilled or cancelled or X3 stock moved), while a --sandbox run goes on; 0: none."
  )
  var sandboxLiveInterval: Double = 20

  @Flag(
    help: "Run every scheduled job once, print what the cycle did and exit (also: the first cycle of a run prints it).")
  var once = false

  @Flag(
    help:
      "With --once: serve webhooks and the admin API while the cycle runs (by default a one-shot run listens on no port, so it can run beside a live host)."
  )
  var listen = false

  /// Whether this run serves webhooks and the admin API.
  var listening: Bool { !once || listen }

  @Flag(
    help:
      "Run every scheduled job once against a scratch copy of the state, journaling mutating requests instead of sending them; print what would have been written and exit."
  )
  var dryRun = false

  func run() async throws {
    let signals = ShutdownSignals()
    let logger = logging.makeLogger()
    var state = self.state
    // The simulated systems start afresh each time, so the sandbox's own state does too (not a --state given); a
    // dry run against them starts from an empty state of its own and leaves .mlhost-sandbox as it was.
    let fresh = sandbox && state.state == StateOptions.defaultDirectory
    if fresh {
      state.state =
        dryRun
        ? FileManager.default.temporaryDirectory.appendingPathComponent("mlhost-sandbox-dry-run-\(getpid())").path
        : ".mlhost-sandbox"
    }
    defer { if fresh && dryRun { try? FileManager.default.removeItem(atPath: state.state) } }
    // Held until the process ends: a second host on this folder is refused before it can touch anything.
    let lock = try claimStateAndPorts(state, logger: logger)
    defer { withExtendedLifetime(lock) {} }
    var systems: Sandbox?
    if sandbox {
      if fresh { try StateFolder.clear(state.directory) }  // everything but the lock just taken
      var options = Sandbox.Options()
      options.orders = sandboxOrders
      options.inject(Faults(rate: sandboxFaults, latency: sandboxLatencyMs / 1000, slowDelay: 3))
      // The simulated servers' own plumbing (connections cancelled when the run ends) is not the user's concern:
      // what they answered shows in the connector's log.
      systems = try await Sandbox.start(options, logger: logger.silenced(below: .critical))
      logger.info(
        "sandbox systems started",
        metadata: [
          "shopify": .string(systems!.shopifyURL), "x3": .string(systems!.x3URL),
          "orders": .stringConvertible(sandboxOrders),
        ])
    }
    let simulated = systems
    defer { simulated?.stop() }
    // While the run goes on, `mlhost sandbox` finds the systems (and their control token) here, and the live
    // generator keeps them busy; both end before the systems stop.
    let control = state.directory.appendingPathComponent(SandboxCommand.controlFile)
    var live: Task<Void, Never>?
    if let systems, !once, !dryRun {
      let info: [String: Any] = [
        "shopify": systems.shopifyURL, "x3": systems.x3URL, "woocommerce": systems.woocommerceURL,
        "token": systems.controlToken, "pid": Int(getpid()),
      ]
      try StateFolder.writePrivate(
        try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys, .withoutEscapingSlashes]), to: control)
      if sandboxLiveInterval > 0 {
        live = SandboxLive(systems).run(every: sandboxLiveInterval) { line in
          logger.info("sandbox: \(line)")
        }
      }
    }
    let generator = live
    defer {
      generator?.cancel()
      if simulated != nil && !once && !dryRun { try? FileManager.default.removeItem(at: control) }
    }
    let store: SQLiteStore
    let vault: CredentialVault
    do {
      store = try SQLiteStore(directory: state.directory)
      vault = try state.vault()
      for credential in systems?.credentials() ?? [] { try vault.set(credential) }
      try vault.registerSecrets()
      for c in try vault.list() where c.origins.isEmpty && c.type.signsRequests {
        logger.warning(
          "credential \(c.name) is bound to no origin, so no request will carry it: mlhost creds set \(c.name) --type \(c.type) --origin https://<its system's host>:<port>"
        )
      }
    } catch {
      FileHandle.standardError.write(Data("\(state.state): \(error)\n".utf8))
      throw ExitCode(1)
    }
    let sources = try scripts.sources(extra: (systems?.settings ?? [:]).mapValues { .text($0) })
    var options = HostOptions(grace: grace, watch: !noWatch, concurrency: concurrency)
    options.leaseSeconds = leaseSeconds
    options.retention = keepDays * 86_400
    if dryRun {
      // Nothing of a dry run is kept: an interrupted one just ends.
      signals.onSignal { Foundation.exit(130) }
      return try await dryRunCycle(
        sources, store: store, vault: vault, options: options, logger: logger,
        stateName: fresh
          ? "no state is kept (a sandbox dry run starts from an empty one)" : "\(state.state) is unchanged")
    }
    let host = ConnectorHost(
      store: store, logger: logger, options: options, authenticator: Authenticator(vault: vault, now: options.now))
    do {
      try await host.start(sources)
    } catch {
      FileHandle.standardError.write(Data("\(error)\n".utf8))
      throw ExitCode(1)
    }
    let ingress = WebhookIngress(host: host, vault: vault, logger: logger, bodyLimit: bodyLimit)
    signal(SIGHUP, SIG_IGN)
    let hangup = DispatchSource.makeSignalSource(signal: SIGHUP)
    hangup.setEventHandler {
      logger.info("SIGHUP: reloading every connector")
      Task { await host.reload() }
    }
    hangup.resume()
    let token = try state.adminToken(create: true)
    let adminInfo = state.directory.appendingPathComponent("admin.json")
    let adminHost = adminHost
    let webhooks = try WebhookServer.application(
      ingress: ingress, listener: webhookListener, logger: logger.silenced()
    ) { port in
      let url = "\(tlsCert == nil ? "http" : "https")://\(webhookHost):\(port)"
      logger.info("webhooks listening", metadata: ["url": .string(url), "path": "/hooks/<connector>/<name>"])
      for name in host.routes.connectors {
        simulated?.subscribeOrderWebhooks(base: url, connector: name)
        simulated?.subscribeWooCommerceWebhooks(
          base: url, connector: name, declared: host.routes.subscriptions(connector: name, system: .woocommerce))
        // The simulated Adobe store sends its order events to a connector that takes them (`/hooks/<name>/order`).
        if host.routes.webhook(connector: name, name: "order")?.system == .adobe_commerce {
          simulated?.subscribeAdobeWebhooks(base: url, connector: name)
        }
      }
    }
    let admin = try AdminServer.application(
      host: host, token: token, listener: adminListener, logger: logger.silenced()
    ) { port in
      let url = "http://\(adminHost):\(port)"
      try? StateFolder.writePrivate(Data("{\"url\": \"\(url)\", \"pid\": \(getpid())}\n".utf8), to: adminInfo)
      logger.info("admin API listening", metadata: ["url": .string(url)])
    }
    // The sandbox systems stop with a one-shot run: its records can be replayed only while a sandbox run goes on.
    let hint = state.hint
    let replayCommand: (@Sendable (Int64) -> String)? =
      sandbox && once ? nil : { @Sendable in Invocation.replay($0, stateHint: hint) }
    var service = HostService(
      host: host, logger: logger, firstCycle: sandbox || once, replayCommand: replayCommand, once: once)
    if sandbox && once {
      service.note = "(the sandbox systems stop with this run; run without --once to replay records while they run)"
    } else if let systems {
      service.note = SandboxCommand.hints(systems, state: state.state, live: sandboxLiveInterval)
    }
    // A group shuts its services down in reverse order: intake stops first (webhooks, then the admin API), then the
    // host lets its running jobs finish; the sandbox systems they talk to stop only after the group has ended.
    let group = ServiceGroup(
      configuration: .init(
        services: [.init(service: service, successTerminationBehavior: once ? .gracefullyShutdownGroup : .ignore)]
          + (listening ? [.init(service: admin), .init(service: webhooks)] : []),
        logger: logger.silenced()))
    signals.onSignal { Task { await group.triggerGracefulShutdown() } }
    try await group.run()
    hangup.cancel()
    try? FileManager.default.removeItem(at: adminInfo)
  }
}

extension RunCommand {
  /// One cycle on a copy of the store, so the real state (cursors, records, mappings) is left as it was and a
  /// later real run still does everything.
  func dryRunCycle(
    _ sources: [ConnectorSource], store: SQLiteStore, vault: CredentialVault, options: HostOptions,
    logger: Logger, stateName: String
  ) async throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "mlhost-dry-run-\(getpid())-\(Digest.uuid4())")
    defer { try? FileManager.default.removeItem(at: scratch) }
    var options = options
    options.watch = false
    options.retry.maxAttempts = 1  // a failure is reported, not retried for minutes
    let journal = DryRunJournal()
    options.journal = journal
    let host = ConnectorHost(
      store: try await store.snapshot(into: scratch), logger: logger, options: options,
      authenticator: Authenticator(vault: vault, now: options.now))
    do {
      try await host.start(sources)
    } catch {
      throw HostError(.setup, "\(error)")
    }
    let dispatcher = Task { await host.runDispatcher() }
    let report = try await host.runCycle()
    dispatcher.cancel()
    await host.shutdown()
    print("dry run: one cycle of every scheduled job; nothing was sent that writes, and \(stateName)")
    // Its records live only in the scratch copy: no replay command would find them.
    print(report.text(replayCommand: nil))
    print(journal.summary())
  }
}
