import Foundation
import Logging
import MLHostCore
import MLHostRuntime
import MLHostSandbox
import MLHostSystems
import MLHostTesting
import Testing

/// `stdlib/sage300/` against the sandbox Sage 300, and the sandbox itself against the API facts (§5): URL shape,
/// Basic auth rules, the content-type rule, the OData subset, paging under the server's PageSize, nested batch
/// creation validated against GL, duplicate documents, posting once, IIS pages and the cold start.
@Suite(.serialized) struct Sage300ClientTests {
  static let quiet = Logger(label: "sandbox") { _ in SwiftLogNoOpLogHandler() }

  static let settingsSchema = """
    local c = mlhost.connector { name = "sage300client", settings = {
      url = { type = "url", required = true }, user = { type = "string", required = true },
      credential = { type = "credential", required = true } } }
    local s = c.settings

    """

  @Test func theClientReadsWritesPostsAndRefusesAsSage300Does() async throws {
    var options = Sandbox.Options()
    options.sage300.pageSize = 3  // the Web API answers at most 3 rows, whatever $top asks
    options.sage300.openFrom = ["SAMLTD": "2020-01-01"]
    let sandbox = try await Sandbox.start(options, logger: Self.quiet)
    defer { sandbox.stop() }
    let customers = sandbox.sage300.customers("SAMLTD")
    let someone = try #require(customers.first)
    sandbox.sage300.maintainCustomer("SAMLTD", number: "1999", name: "Dermot O'Brien", email: "d.obrien@example.com")
    let script =
      Self.settingsSchema + """
        local sage300 = require "sage300"
        local odata = sage300.odata
        local system_error = require "sync.system_error"
        local money = mlhost.money

        c:every("1h", "check", function()
          -- Literals and filters as the Web API reads them.
          assert(odata.string("O'Brien") == "'O''Brien'", odata.string("O'Brien"))
          assert(odata.literal(money.new("99.90")) == "99.90m", odata.literal(money.new("99.90")))
          assert(odata.datetime("2025-01-31") == "datetime'2025-01-31T00:00:00'")
          assert(odata.datetime("2025-01-31T12:00") == "datetime'2025-01-31T12:00:00'")
          assert(not pcall(odata.literal, 1.5), "a float is never sent")
          assert(odata.filter({ { field = "A", op = "eq", value = 1 }, { { field = "B", op = "eq", value = "x" },
            { field = "C", op = "startswith", value = "y" } } }) == "A eq 1 and (B eq 'x' or startswith(C,'y'))")
          assert(not pcall(sage300.client, { url = s.url, user = "mlhost", credential = s.credential }))
          local _, why = pcall(sage300.client, { url = s.url, user = "mlhost", credential = s.credential })
          assert(tostring(why):find("lower-case", 1, true), tostring(why))
          assert(not pcall(sage300.client, { url = s.url, user = "ADMIN", credential = s.credential }), "ADMIN refused")
          assert(pcall(sage300.client, { name = "admin", url = s.url, user = "ADMIN", allow_admin = true,
            credential = s.credential }))
          assert(not pcall(sage300.company, "samltd"), "company ids are upper-case")

          local erp = sage300.client { url = s.url, user = s.user, credential = s.credential, page_size = 10, retries = 4 }
          -- Paging: $top=10 asked, 3 answered each time (the server's PageSize); the count says when it ends.
          local n = 0
          for _ in erp:query("SAMLTD", "AR/ARCustomers", { orderby = { "CustomerNumber" } }) do n = n + 1 end
          assert(n == \(customers.count + 1), "customers over all pages: " .. n)
          assert(erp:count("SAMLTD", "AR/ARCustomers") == \(customers.count + 1), "/$count")
          assert(erp:count("SAMLTD", "AR/ARCustomers", { { field = "CustomerNumber", op = "eq", value = "1999" } }, true) == 1,
            "$count=true")
          local irish = erp:first("SAMLTD", "AR/ARCustomers", { { field = "CustomerName", op = "eq", value = "Dermot O'Brien" } })
          assert(irish and irish.CustomerNumber == "1999", "quoted and escaped")
          assert(erp:customer_by_email("SAMLTD", "\(someone["Email"]!)").CustomerNumber == "\(someone["CustomerNumber"]!)")
          assert(erp:customer("SAMLTD", "NOPE") == nil, "a missing customer reads as nil")
          local today = 0
          for row in erp:changed_since("SAMLTD", "AR/ARCustomers", "DateLastMaintained", "CustomerNumber",
            mlhost.time.format(mlhost.time.now(), "date")) do
            assert(row.DateLastMaintained, "maintained")
            today = today + 1
          end
          assert(today == \(customers.count + 1), "the boundary day is read again: " .. today)
          for _ in erp:changed_since("SAMLTD", "AR/ARCustomers", "DateLastMaintained", "CustomerNumber", "2999-01-01") do
            error("nothing was maintained in the future")
          end
          local bad = pcall(erp.query, erp, "SAMLTD", "AR/ARCustomers", { filter = "CreditLimitCustomerCurrency gt 10.5" })
          assert(bad, "a query is lazy")
          local ok, err = pcall(function()
            for _ in erp:query("SAMLTD", "AR/ARCustomers", { filter = "CreditLimitCustomerCurrency gt 10.5" }) do end
          end)
          assert(not ok and system_error.is(err, "business") and err.code == "InvalidParameters", "a float literal: " .. tostring(err))

          -- Customers: upper-case numbers, lengths, a duplicate read back.
          assert(not pcall(erp.create_customer, erp, "SAMLTD", { CustomerNumber = "web1" }), "lower-case number refused")
          local long = string.rep("é", 70)
          local created, found = erp:create_customer("SAMLTD", { CustomerNumber = "WEB1", CustomerName = long,
            GroupCode = "WEB", Email = "web1@example.com" })
          assert(created.CustomerNumber == "WEB1" and not found and utf8.len(created.CustomerName) == 60, "created, cut to 60")
          local again, dup = erp:create_customer("SAMLTD", { CustomerNumber = "WEB1", CustomerName = "x", GroupCode = "WEB" })
          assert(again.CustomerNumber == "WEB1" and dup, "RecordDuplicate reads the customer back")
          erp:update_customer("SAMLTD", "WEB1", { CustomerName = "Web One" })
          assert(erp:customer("SAMLTD", "WEB1").CustomerName == "Web One", "updated")

          -- A batch with a nested invoice; a second invoice inserted; GL refusals carry Sage 300's reason.
          local function invoice(doc, account, amount)
            return { CustomerNumber = "WEB1", DocumentType = "Invoice", DocumentNumber = doc, DocumentDate = "2026-11-20",
              DocumentTotalIncludingTax = money.new(amount),
              InvoiceDetails = { { RevenueAccount = account, Description = "goods", ExtendedAmountWithTIP = money.new(amount) } } }
          end
          local batch = erp:create_batch("SAMLTD", { BatchDate = "2026-11-20", Description = "TEST 1",
            Invoices = { invoice("D-1", "4000", "10.10") } })
          assert(batch.BatchNumber and batch.BatchStatus == "Open", "batch created")
          local where = erp:add_invoice("SAMLTD", batch.BatchNumber, invoice("D-2", "4000", "20.20"))
          assert(where.batch == batch.BatchNumber and where.entry == 2, "second entry")
          ok, err = pcall(erp.add_invoice, erp, "SAMLTD", batch.BatchNumber, invoice("D-3", "4900", "1.00"))
          assert(not ok and system_error.is(err, "business") and err.message:find("Account 4900 is inactive", 1, true),
            "inactive account: " .. tostring(err))
          -- The same document again is refused by Sage 300, and the client finds it: done, not a second invoice.
          local same, was = erp:add_invoice("SAMLTD", batch.BatchNumber, invoice("D-2", "4000", "20.20"))
          assert(was and same.entry == 2, "duplicate document treated as done")
          assert(erp:invoice_by_document("SAMLTD", "D-1").entry == 1, "looked up by document")
          assert(erp:invoice_by_document("SAMLTD", "D-404") == nil)
          assert(#erp:open_batches("SAMLTD", "TEST") == 1, "open batches by description")
          local status, changed = erp:post_batch("SAMLTD", batch.BatchNumber)
          assert(status == "ReadyToPost" and changed, "posted")
          status, changed = erp:post_batch("SAMLTD", batch.BatchNumber)
          assert(status == "ReadyToPost" and not changed, "never posted twice")
          ok, err = pcall(erp.add_invoice, erp, "SAMLTD", batch.BatchNumber, invoice("D-4", "4000", "1.00"))
          assert(not ok and system_error.is(err, "business"), "a posted batch takes nothing more")
          ok, err = pcall(erp.create_batch, erp, "SAMLTD", { BatchDate = "2026-11-20", Description = "TEST 2",
            Invoices = { (function() local i = invoice("D-5", "4000", "1.00"); i.DocumentDate = "2019-12-31"; return i end)() } })
          assert(not ok and err.message:find("is locked", 1, true), "closed period: " .. tostring(err))
          mlhost.log.info("sage300 client checks passed")
        end)

        return c
        """
    let run = try await runOnce(
      script, sandbox: sandbox,
      settings: [
        "url": sandbox.sage300URL, "user": sandbox.sage300.config.user, "credential": "sage300",
      ])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.stdout.contains("sage300client.check: ok"), "\(run.stdout)\n\(run.stderr)")
    #expect(run.stderr.contains("sage300 client checks passed"))
    let invoices = sandbox.sage300.invoices("SAMLTD")
    #expect(invoices.map { $0["DocumentNumber"] as? String } == ["D-1", "D-2"])
    #expect(sandbox.sage300.postings("SAMLTD").values.allSatisfy { $0 == 1 })
    #expect(sandbox.sage300.statistics.repostsRefused == 0, "the client read the status instead of posting again")
  }

  @Test func iisFailuresAndTheColdStartAreWaitedOutAndAnAmbiguousInsertIsLookedUp() async throws {
    var options = Sandbox.Options()
    options.sage300.coldStart = 0.5
    options.sage300.idleTimeout = 0.2
    let sandbox = try await Sandbox.start(options, logger: Self.quiet)
    defer { sandbox.stop() }
    try sandbox.inject(fault: "unavailable", system: "sage300", match: "GET", times: 2)
    try sandbox.inject(fault: "tooMany", system: "sage300", match: "GET")
    try sandbox.inject(fault: "badGateway", system: "sage300", match: "PATCH")
    try await Task.sleep(nanoseconds: 300_000_000)  // the app pool idles: the first request starts it
    let script =
      Self.settingsSchema + """
        local sage300 = require "sage300"
        local money = mlhost.money
        c:every("1h", "check", function()
          local erp = sage300.client { url = s.url, user = s.user, credential = s.credential, retries = 4 }
          assert(erp:customer("SAMLTD", "1100"), "read through two IIS 503 pages and a TooManyRequests")
          local function invoice(doc)
            return { CustomerNumber = "1100", DocumentNumber = doc, DocumentDate = "2026-11-20",
              InvoiceDetails = { { RevenueAccount = "4000", ExtendedAmountWithTIP = money.new("5.00") } } }
          end
          local batch = erp:create_batch("SAMLTD", { Description = "T", Invoices = { invoice("A-1") } })
          local where, found = erp:add_invoice("SAMLTD", batch.BatchNumber, invoice("A-2"))
          assert(found and where.entry == 2, "ARR answered 502 after the insert: found, not sent again")
          mlhost.log.info("sage300 retry checks passed")
        end)
        return c
        """
    let run = try await runOnce(
      script, sandbox: sandbox,
      settings: [
        "url": sandbox.sage300URL, "user": sandbox.sage300.config.user, "credential": "sage300",
      ])
    #expect(run.stderr.contains("sage300 retry checks passed"), "\(run.stdout)\n\(run.stderr)")
    #expect(sandbox.sage300.statistics.coldStarts >= 1)
    #expect(sandbox.sage300.faultsInjected == 4)
    #expect(sandbox.sage300.invoices("SAMLTD").count == 2)
  }

  @Test func aWriteOutOfItsViewsOrderIsRefusedAndTheClientsWritesAreTaken() async throws {
    let sandbox = try await Sandbox.start(Sandbox.Options(), logger: Self.quiet)
    defer { sandbox.stop() }
    let customers = "/Sage300WebApi/v1.0/-/SAMLTD/AR/ARCustomers"
    let batches = "/Sage300WebApi/v1.0/-/SAMLTD/AR/ARInvoiceBatches"
    let customer = sandbox.sage300.customers("SAMLTD")[0]["CustomerNumber"] as! String
    let detail = #"{"RevenueAccount":"4000","ExtendedAmountWithTIP":1}"#
    func invoice(_ doc: String, _ fields: String) -> String {
      #"{"BatchDate":"2026-11-20","Description":"order \#(doc)","Invoices":[\#(fields)]}"#
    }
    // Each body is sent as these bytes: a parsed object would lose the order the view sees.
    let refused: [(String, String, String)] = [
      (customers, #"{"GroupCode":"WEB","CustomerNumber":"ORD1"}"#, "CustomerNumber must be put to the view before"),
      (
        batches,
        invoice(
          "1",
          #"{"DocumentNumber":"O-1","CustomerNumber":"\#(customer)","DocumentDate":"2026-11-20","InvoiceDetails":[\#(detail)]}"#
        ),
        "CustomerNumber must be put to the view before DocumentNumber"
      ),
      (
        batches,
        invoice(
          "2",
          #"{"CustomerNumber":"\#(customer)","InvoiceDetails":[\#(detail)],"DocumentNumber":"O-2","DocumentDate":"2026-11-20"}"#
        ),
        "DocumentNumber must be put to the view before its details InvoiceDetails"
      ),
      (
        batches,
        #"{"Invoices":[{"CustomerNumber":"\#(customer)","DocumentNumber":"O-3","DocumentDate":"2026-11-20","InvoiceDetails":[\#(detail)]}],"Description":"late"}"#,
        "Description must be put to the view before its details Invoices"
      ),
      (
        batches,
        invoice(
          "4",
          #"{"CustomerNumber":"\#(customer)","DocumentNumber":"O-4","DocumentDate":"2026-11-20","InvoiceDetails":[{"RevenueAccount":"4000","LineNumber":20,"ExtendedAmountWithTIP":1}]}"#
        ),
        "LineNumber must be put to the view before RevenueAccount"
      ),
    ]
    for (path, body, reason) in refused {
      let r = try await send(sandbox, path, method: "POST", raw: body)
      #expect(r.status == 400 && r.text.contains("RecordInvalid") && r.text.contains(reason), "\(body): \(r.text)")
    }
    #expect(sandbox.sage300.statistics.refusedOrder == refused.count)
    #expect(sandbox.sage300.batches("SAMLTD").isEmpty && sandbox.sage300.statistics.customersCreated == 0)
    // The same fields in the facts' order are taken.
    let taken = try await send(
      sandbox, customers, method: "POST", raw: #"{"CustomerNumber":"ORD1","ShortName":"ORD1","GroupCode":"WEB"}"#)
    #expect(taken.status == 201, "\(taken.text)")

    let script =
      Self.settingsSchema + """
        local sage300 = require "sage300"
        local money, json = mlhost.money, mlhost.json

        c:every("1h", "check", function()
          -- What the client sends, byte for byte: the facts' order however the Lua tables were built.
          local body = { Invoices = { { InvoiceDetails = { { ExtendedAmountWithTIP = money.new("12.50"),
            Description = "goods", DistributionCode = "WEB" } }, DocumentTotalIncludingTax = money.new("12.50"),
            PostingDate = "2026-11-20", DocumentDate = "2026-11-20", DocumentNumber = "O-9", DocumentType = "Invoice",
            CustomerNumber = "ORD1", Zebra = "z", Apple = "a" } }, Description = "ordered", BatchDate = "2026-11-20" }
          local sent = json.encode(sage300.ordered(body, sage300.SHAPES["AR/ARInvoiceBatches"]))
          local want = '{"BatchDate":"2026-11-20","Description":"ordered","Invoices":[{"CustomerNumber":"ORD1",'
            .. '"DocumentType":"Invoice","DocumentNumber":"O-9","DocumentDate":"2026-11-20","PostingDate":"2026-11-20",'
            .. '"DocumentTotalIncludingTax":12.50,"Apple":"a","Zebra":"z","InvoiceDetails":[{"DistributionCode":"WEB",'
            .. '"Description":"goods","ExtendedAmountWithTIP":12.50}]}]}'
          assert(sent == want, sent)
          local customer = json.encode(sage300.ordered({ Email = "o@example.com", CustomerName = "Ord", GroupCode = "WEB",
            ShortName = "ORD2", CustomerNumber = "ORD2" }, sage300.SHAPES["AR/ARCustomers"]))
          assert(customer == '{"CustomerNumber":"ORD2","ShortName":"ORD2","GroupCode":"WEB","CustomerName":"Ord",'
            .. '"Email":"o@example.com"}', customer)

          -- And every write the client makes is taken by a server that checks the order.
          local erp = sage300.client { url = s.url, user = s.user, credential = s.credential }
          erp:create_customer("SAMLTD", { Email = "o@example.com", CustomerName = "Ord", GroupCode = "WEB",
            ShortName = "ORD2", CustomerNumber = "ORD2" })
          erp:update_customer("SAMLTD", "ORD2", { CustomerName = "Ord Two", City = "Austin" })
          local function invoice(doc)
            return { DocumentTotalIncludingTax = money.new("12.50"), InvoiceDetails = { { ExtendedAmountWithTIP =
              money.new("12.50"), Description = "goods", DistributionCode = "WEB" } }, DocumentDate = "2026-11-20",
              DocumentNumber = doc, DocumentType = "Invoice", CustomerNumber = "ORD2" }
          end
          local batch = erp:create_batch("SAMLTD", { Invoices = { invoice("O-10") }, Description = "ordered",
            BatchDate = "2026-11-20" })
          erp:add_invoice("SAMLTD", batch.BatchNumber, invoice("O-11"))
          assert(erp:post_batch("SAMLTD", batch.BatchNumber) == "ReadyToPost")
          mlhost.log.info("ordered writes taken")
        end)

        return c
        """
    let run = try await runOnce(
      script, sandbox: sandbox,
      settings: ["url": sandbox.sage300URL, "user": sandbox.sage300.config.user, "credential": "sage300"])
    #expect(run.stderr.contains("ordered writes taken"), "\(run.stdout)\n\(run.stderr)")
    #expect(sandbox.sage300.statistics.refusedOrder == refused.count, "no write of the client was refused")
    #expect(sandbox.sage300.invoices("SAMLTD").map { $0["DocumentNumber"] as? String } == ["O-10", "O-11"])
  }

  /// One request to the sandbox Sage 300 with the given headers; `raw` is sent as it is, `body` as Foundation
  /// writes it (in no particular order).
  func send(
    _ sandbox: Sandbox, _ path: String, method: String = "GET", user: String? = nil, password: String? = nil,
    contentType: String? = "application/json", body: [String: Any]? = nil, raw: String? = nil
  ) async throws -> (status: Int, text: String) {
    var headers: [(String, String)] = []
    if let contentType { headers.append(("Content-Type", contentType)) }
    let cfg = sandbox.sage300.config
    let credentials = "\(user ?? cfg.user):\(password ?? cfg.password)"
    headers.append(("Authorization", "Basic " + ByteCodecs.base64(Array(credentials.utf8))))
    let data = try raw.map { Array($0.utf8) } ?? body.map { Array(try JSONSerialization.data(withJSONObject: $0)) }
    let r = try await HTTPClient.shared.send(
      MLHostSystems.HTTPRequest(
        method: method, url: sandbox.sage300URL + path, headers: headers, body: data)
    ).get()
    return (r.status, String(decoding: r.body, as: UTF8.self))
  }

  @Test func theSandboxFollowsTheWebAPIRules() async throws {
    let sandbox = try await Sandbox.start(Sandbox.Options(), logger: Self.quiet)
    defer { sandbox.stop() }
    let base = "/Sage300WebApi/v1.0/-/SAMLTD/AR/ARCustomers"
    let ok = try await send(sandbox, base + "?$top=2&$count=true")
    #expect(
      ok.status == 200 && ok.text.contains("\"odata.count\":\"\(sandbox.sage300.customers("SAMLTD").count)\""),
      "\(ok.text)")
    let noType = try await send(sandbox, base, contentType: nil)
    #expect(
      noType.status == 500 && noType.text.contains("InternalServerError"), "content type is required: \(noType.text)")
    let lower = try await send(sandbox, base, user: sandbox.sage300.config.user.lowercased())
    #expect(lower.status == 401 && lower.text.contains("upper-case"), "\(lower.text)")
    let admin = try await send(sandbox, base, user: "ADMIN")
    #expect(admin.status == 401 && admin.text.contains("ADMIN"), "\(admin.text)")
    #expect(try await send(sandbox, base, password: "wrong").status == 401)
    let company = try await send(sandbox, "/Sage300WebApi/v1.0/-/NOPE/AR/ARCustomers")
    #expect(company.status == 401 && company.text.contains("SessionError"), "\(company.text)")
    let missing = try await send(sandbox, base + "('NOPE')")
    #expect(missing.status == 404 && missing.text.contains("RecordNotFound"), "\(missing.text)")
    let twice = try await send(sandbox, base + "?$top=1&$top=2")
    #expect(twice.status == 400 && twice.text.contains("more than once"), "\(twice.text)")
    let unknown = try await send(sandbox, base + "?$filter=ShoeSize%20eq%201")
    #expect(unknown.status == 400 && unknown.text.contains("InvalidParameters"), "\(unknown.text)")
    let dateAsText = try await send(sandbox, base + "?$filter=DateLastMaintained%20gt%20'2025-01-01'")
    #expect(dateAsText.status == 400, "a date compares only with datetime'…': \(dateAsText.text)")
    let count = try await send(sandbox, base + "/$count")
    #expect(count.status == 200 && count.text == "\(sandbox.sage300.customers("SAMLTD").count)")
    let extra = try await send(
      sandbox, base, method: "POST", body: ["CustomerNumber": "X1", "GroupCode": "WEB", "ShoeSize": 4])
    #expect(extra.status == 400 && extra.text.contains("InvalidPayload"), "\(extra.text)")
    let batch = try await send(
      sandbox, "/Sage300WebApi/v1.0/-/SAMINC/AR/ARInvoiceBatches", method: "POST",
      raw: #"{"Description":"raw","Invoices":[{"CustomerNumber":"NOBODY","DocumentNumber":"R-1","#
        + #""DocumentDate":"2026-11-20","InvoiceDetails":[{"RevenueAccount":"4000","ExtendedAmountWithTIP":1}]}]}"#)
    #expect(batch.status == 400 && batch.text.contains("Customer Number NOBODY does not exist"), "\(batch.text)")
    #expect(sandbox.sage300.batches("SAMINC").isEmpty, "a refused batch leaves nothing behind")

    // Documents are found through the DocumentNumber index exactly as a scan finds them; unique per customer only.
    let people = sandbox.sage300.customers("SAMINC").compactMap { $0["CustomerNumber"] as? String }
    // Raw JSON: the sandbox refuses fields out of their view's order, and a Foundation dictionary has none.
    func invoice(_ customer: String, _ document: String) -> String {
      #"{"CustomerNumber":"\#(customer)","DocumentNumber":"\#(document)","DocumentDate":"2026-11-20","#
        + #""InvoiceDetails":[{"RevenueAccount":"4000","ExtendedAmountWithTIP":1}]}"#
    }
    func batchBody(_ invoices: [String]) -> String {
      #"{"Description":"ix","Invoices":["# + invoices.joined(separator: ",") + "]}"
    }
    let batches = "/Sage300WebApi/v1.0/-/SAMINC/AR/ARInvoiceBatches"
    for invoices in [[invoice(people[0], "R-2"), invoice(people[0], "R-3")], [invoice(people[1], "R-2")]] {
      let created = try await send(sandbox, batches, method: "POST", raw: batchBody(invoices))
      #expect(created.status == 201, "\(created.text)")
    }
    let repeated = try await send(sandbox, batches, method: "POST", raw: batchBody([invoice(people[0], "R-3")]))
    #expect(repeated.status == 400 && repeated.text.contains("already exists"), "\(repeated.text)")
    func matching(_ filter: String) async throws -> String {
      try await send(sandbox, batches + "/$count?$filter=" + filter.replacingOccurrences(of: " ", with: "%20")).text
    }
    #expect(try await matching("Invoices/any(d: d/DocumentNumber eq 'R-2')") == "2")
    #expect(
      try await matching("Invoices/any(d: d/DocumentNumber eq 'R-2' and d/CustomerNumber eq '\(people[1])')") == "1")
    #expect(
      try await matching("Invoices/any(d: d/CustomerNumber eq '\(people[1])' and d/DocumentNumber eq 'R-2')") == "1")
    #expect(try await matching("Invoices/any(d: d/DocumentNumber eq 'R-3') and BatchNumber eq 2") == "0")
    #expect(try await matching("Invoices/any(d: d/DocumentNumber eq 'R-404')") == "0")
  }
}
