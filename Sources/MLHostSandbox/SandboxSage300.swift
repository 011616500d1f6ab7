import Foundation
import MLHostSystems

/// The simulated Sage 300's part of the sandbox: its credential, its settings (section `sage300`) and its counters.
extension Sandbox {
  /// Basic auth with the Web API user, bound to the simulator's origin.
  var sage300Credentials: [Credential] {
    [
      Credential(
        name: "sage300", type: .basic, fields: ["user": sage300.config.user, "password": sage300.config.password],
        origins: [sage300URL])
    ]
  }

  var sage300Settings: [String: String] {
    [
      "sage300.url": sage300URL, "sage300.credential": "sage300", "sage300.user": sage300.config.user,
      "sage300.path": sage300.config.path,
    ]
  }

  var sage300Counters: [String: Int] {
    let s = sage300.statistics
    var reposted = 0
    for company in Sage300Simulator.companies { reposted += sage300.postings(company).values.filter { $0 > 1 }.count }
    return [
      "sage300.requests": s.requests, "sage300.cold_starts": s.coldStarts,
      "sage300.faults_injected": sage300.faultsInjected,
      "sage300.customers_created": s.customersCreated, "sage300.customers_updated": s.customersUpdated,
      "sage300.batches_created": s.batchesCreated, "sage300.invoices_added": s.invoicesAdded,
      "sage300.invoices_refused": s.invoicesRefused, "sage300.batches_posted": s.batchesPosted,
      "sage300.reposts_refused": s.repostsRefused, "sage300.batches_posted_twice": reposted,
      "sage300.refused_auth": s.refusedAuth, "sage300.refused_content_type": s.refusedContentType,
      "sage300.refused_order": s.refusedOrder,
    ]
  }
}
