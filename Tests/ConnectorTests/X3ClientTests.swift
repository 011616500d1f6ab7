import Foundation
import Logging
import MLHostRuntime
import MLHostSandbox
import MLHostSystems
import MLHostTesting
import Testing

/// `stdlib/sagex3/` over both X3 APIs against the sandbox folder, and the sandbox's GraphQL API itself against
/// the API facts (connected-app JWT checks, cursor paging, filters, refusals as diagnoses).
@Suite(.serialized) struct X3ClientTests {
  static let quiet = Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() }

  /// The same Lua checks through `api = "rest"` (gateway token) and `api = "graphql"` (connected-app JWT).
  @Test(arguments: [("rest", "x3"), ("graphql", "x3_app")])
  func theClientReadsWritesAndRefusesTheSameOverBothAPIs(api: String, credential: String) async throws {
    var options = Sandbox.Options()
    // This folder publishes invoices through its own representation: api1 refuses SINVOICE.$query for them. Its
    // invoices stay unposted, so their status field may be edited.
    options.x3.representations = ["SINVOICE": "ZSINVOICE"]
    options.x3.postInvoices = false
    let sandbox = try await Sandbox.start(options, logger: Self.quiet)
    defer { sandbox.stop() }
    let customers = sandbox.x3.rows("BPCUSTOMER")
    let someone = try #require(customers.first { ($0["EMAIL"] as? String)?.contains("@") == true })
    let item = try #require(sandbox.x3.rows("ITMMASTER").first?["ITMREF"] as? String)
    let script = """
      local sagex3 = require "sagex3"
      local system_error = require "sync.system_error"
      local c = mlhost.connector { name = "x3client", settings = {
        url = { type = "url", required = true }, endpoint = { type = "string", required = true },
        credential = { type = "credential", required = true }, api = { type = "string", required = true } } }
      local s = c.settings

      c:every("1h", "check", function()
        local bad = pcall(sagex3.client, { api = "soap", url = s.url })
        assert(not bad, "an unknown api must be refused")
        local x3 = sagex3.client { api = s.api, url = s.url, endpoint = s.endpoint, credential = s.credential,
          page_size = 2, representations = { invoice = "ZSINVOICE" } }
        local n = 0
        for _ in x3:query("customer") do n = n + 1 end
        assert(n == \(customers.count), "customers over all pages: " .. n)
        local who = x3:customer_by_email("\((someone["EMAIL"] as! String).uppercased())")
        assert(who and who.BPCNUM == "\(someone["BPCNUM"]!)", "customer by email, any case")
        assert(x3:customer_by_email("nobody.(at)example.net") == nil)
        assert(x3:read("invoice", "SIH-NONE") == nil, "a missing invoice reads as nil")
        assert(x3:enabled(x3:read("account", "701000"), "701000"))
        local on, why = x3:enabled(x3:read("account", "706100"), "GL account 706100")
        assert(on == false and why:find("is inactive in X3 (ENAFLG = ", 1, true), "inactive: " .. tostring(why))
        local body = { SIVTYP = "INV", SALFCY = "FR011", BPCINV = who.BPCNUM, CUSORDREF = "#T-1", CUR = "EUR",
          INVDAT = "2026-11-24", AMTNOT = "10.00", AMTATI = "12.00", ZSHOPSTA = "PENDING",
          SIHSID = { { ITMREF = "\(item)", QTY = 1, GROPRI = "10.00", AMTNOTLIN = "10.00", VATAMT = "1.90",
            VACITM = "NOR", ACC = "701000", CCE = "WEB01" } } }
        local ok, err = pcall(x3.create, x3, "invoice", body)
        assert(not ok and system_error.is(err, "business") and not err.retryable
          and err.message:find("Totals do not balance", 1, true), "refusal: " .. tostring(err))
        body.AMTATI = mlhost.money.new("11.90")
        local invoice = x3:create("invoice", body)
        assert(invoice.NUM and invoice.CUSORDREF == "#T-1", "created")
        assert(x3:invoice_by_reference("#T-1").NUM == invoice.NUM, "found by reference")
        x3:update("invoice", invoice.NUM, { ZSHOPSTA = "PAID" })
        assert(x3:read("invoice", invoice.NUM).ZSHOPSTA == "PAID", "updated")
        local stock = 0
        for row in x3:changed_since("stock", "2000-01-01T00:00:00Z") do
          assert(row.ITMREF and row.QTYSTU, "stock row")
          stock = stock + 1
        end
        assert(stock == \(sandbox.x3.rows("STOCK").count), "stock rows: " .. stock)
        for _ in x3:changed_since("stock", "2999-01-01T00:00:00Z") do error("nothing changed in the future") end
        mlhost.log.info("x3 client checks passed", { api = s.api })
      end)

      return c
      """
    let run = try await runOnce(
      script, sandbox: sandbox,
      settings: [
        "url": sandbox.x3URL, "endpoint": "SEED", "credential": credential, "api": api,
      ])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("x3client.check: ok"), "\(run.stdout)\n\(run.stderr)")
    #expect(run.stderr.contains("x3 client checks passed"))
    #expect((sandbox.x3.graphQLRequests > 0) == (api == "graphql"))
    #expect(sandbox.x3.rows("SINVOICE").filter { $0["CUSORDREF"] as? String == "#T-1" }.count == 1)
  }

  /// One GraphQL exchange with the sandbox folder; `token` nil sends the connected app's own JWT.
  func graphQL(
    _ sandbox: Sandbox, _ query: String, variables: [String: Any] = [:], token: String? = nil,
    endpoint: String? = "SEED"
  ) async throws -> (status: Int, text: String, json: [String: Any]) {
    var headers = [("Content-Type", "application/json")]
    if let endpoint { headers.append(("x-xtrem-endpoint", endpoint)) }
    let cfg = sandbox.x3.config
    let now = Int(Date().timeIntervalSince1970)
    let jwt =
      token
      ?? JWT.hs256(
        issuer: cfg.appClientID, subject: cfg.user, audience: cfg.appAudience, issuedAt: now,
        lifetime: 300, secret: cfg.appSecret)
    headers.append(("Authorization", "Bearer \(jwt)"))
    let body = try JSONSerialization.data(withJSONObject: ["query": query, "variables": variables])
    let r = try await HTTPClient.shared.send(
      MLHostSystems.HTTPRequest(
        method: "POST", url: sandbox.x3URL + "/xtrem/api", headers: headers, body: Array(body))
    ).get()
    let text = String(decoding: r.body, as: UTF8.self)
    return (r.status, text, (try? JSONSerialization.jsonObject(with: Data(r.body))) as? [String: Any] ?? [:])
  }

  @Test func connectedAppTokensAreCheckedAsX3ChecksThem() async throws {
    let sandbox = try await Sandbox.start(Sandbox.Options(), logger: Self.quiet)
    defer { sandbox.stop() }
    let cfg = sandbox.x3.config
    let now = Int(Date().timeIntervalSince1970)
    let query = "{ x3MasterData { customer { query(first: 1) { edges { node { code } } } } } }"
    #expect(try await graphQL(sandbox, query).status == 200)
    let cases: [(String, String)] = [
      ("not-a-token", "Error 50"),
      (
        JWT.hs256(
          issuer: cfg.appClientID, subject: cfg.user, audience: "", issuedAt: now, lifetime: 300, secret: "guess"),
        "Error 50"
      ),
      (
        JWT.hs256(
          issuer: "other-app", subject: cfg.user, audience: "", issuedAt: now, lifetime: 300, secret: cfg.appSecret),
        "Error 41"
      ),
      (
        JWT.hs256(
          issuer: cfg.appClientID, subject: "ADMIN", audience: "", issuedAt: now, lifetime: 300, secret: cfg.appSecret),
        "Error 42"
      ),
      (
        JWT.hs256(
          issuer: cfg.appClientID, subject: cfg.user, audience: "", issuedAt: now + 120, lifetime: 300,
          secret: cfg.appSecret), "Error 21"
      ),
      (
        JWT.hs256(
          issuer: cfg.appClientID, subject: cfg.user, audience: "", issuedAt: now, lifetime: 3600, secret: cfg.appSecret
        ), "Error 50"
      ),
      (
        JWT.hs256(
          issuer: cfg.appClientID, subject: cfg.user, audience: "", issuedAt: now - 400, lifetime: 300,
          secret: cfg.appSecret), "Error 50"
      ),
    ]
    for (token, error) in cases {
      let r = try await graphQL(sandbox, query, token: token)
      #expect(r.status == 401 && r.text.hasPrefix(error), "\(error): \(r.status) \(r.text)")
    }
    #expect(try await graphQL(sandbox, query, endpoint: nil).status == 404)
    #expect(try await graphQL(sandbox, query, endpoint: "OTHER").status == 404)
  }

  @Test func queriesPageByCursorWithFiltersAndOrder() async throws {
    let sandbox = try await Sandbox.start(Sandbox.Options(), logger: Self.quiet)
    defer { sandbox.stop() }
    let query = """
      query($after: String, $filter: String) { x3MasterData { customer {
        query(first: 2, after: $after, filter: $filter, orderBy: "{code: -1}") {
          totalCount edges { cursor node { code email } } pageInfo { hasNextPage endCursor } } } } }
      """
    var codes: [String] = []
    var after: String?
    repeat {
      let r = try await graphQL(sandbox, query, variables: after.map { ["after": $0] } ?? [:])
      let page = try #require(
        ((r.json["data"] as? [String: Any])?["x3MasterData"] as? [String: Any]).flatMap {
          ($0["customer"] as? [String: Any])?["query"] as? [String: Any]
        }, "\(r.text)")
      let edges = page["edges"] as? [[String: Any]] ?? []
      #expect(edges.count <= 2)
      codes += edges.compactMap { ($0["node"] as? [String: Any])?["code"] as? String }
      let info = page["pageInfo"] as? [String: Any] ?? [:]
      after = info["hasNextPage"] as? Bool == true ? info["endCursor"] as? String : nil
    } while after != nil
    let expected = sandbox.x3.rows("BPCUSTOMER").compactMap { $0["BPCNUM"] as? String }.sorted(by: >)
    #expect(codes == expected)
    let one = try #require(sandbox.x3.rows("BPCUSTOMER").first)
    let email = (one["EMAIL"] as! String).uppercased()
    let filtered = try await graphQL(
      sandbox, query, variables: ["filter": "{email: {_regex: '^\(email)$', _options: 'i'}}"])
    #expect(
      filtered.text.contains("\"code\":\"\(one["BPCNUM"]!)\"") && filtered.text.contains("\"totalCount\":1"),
      "\(filtered.text)")
    let unknown = try await graphQL(sandbox, "{ x3MasterData { customer { query { edges { node { shoeSize } } } } } }")
    #expect(unknown.status == 400 && unknown.text.contains("Cannot query field"), "\(unknown.text)")
    let package = try await graphQL(sandbox, "{ x3Nowhere { customer { read(_id: \"X\") { code } } } }")
    #expect(package.status == 400 && package.text.contains("Cannot query field \\\"x3Nowhere\\\""), "\(package.text)")
  }
}

/// Runs a throwaway connector `script` once with the sandbox's credentials in its vault and `settings` as `--set`.
func runOnce(_ script: String, sandbox: Sandbox, settings: [String: String]) async throws -> MLHostProcess.Result {
  let c = try TempConnector(script: script)
  defer { c.remove() }
  let state = c.directory.appendingPathComponent("state")
  let vault = try CredentialVault(directory: state)
  for credential in sandbox.credentials() { try vault.set(credential) }
  let sets = settings.sorted { $0.key < $1.key }.flatMap { ["--set", "\($0.key)=\($0.value)"] }
  return try await MLHostProcess.run(
    [
      "run", c.script.path, "--once", "--state", state.path, "--stdlib", Repository.stdlib.path, "--webhook-port", "0",
      "--admin-port", "0",
    ] + sets, timeout: 60)
}
