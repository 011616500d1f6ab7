import Testing

@testable import MLHostStore
@testable import MLHostSystems

/// Prometheus label values: plain ones as they are, backslash, quote and newline escaped.
@Suite struct MetricLabelTests {
  @Test func labelValuesAreEscapedOnlyWhereTheyMustBe() {
    #expect(
      HostMetrics.labels(["connector": "x3_shopify", "kind": "shopify.order"])
        == #"connector="x3_shopify",kind="shopify.order""#)
    #expect(HostMetrics.labels(["k": "a\\b\"c\nd é"]) == #"k="a\\b\"c\nd é""#)
  }

  @Test func recordKindsAScriptMakesUpAreCappedAsOther() {
    let metrics = HostMetrics()
    for n in 0..<(HostMetrics.recordSeriesLimit + 50) {
      metrics.record(connector: "c", kind: "k\(n)", outcome: "created")
    }
    let text = metrics.prometheus(store: StoreStats())
    let series = text.split(separator: "\n").filter { $0.hasPrefix("mlhost_records_written_total{") }
    #expect(series.count == HostMetrics.recordSeriesLimit + 1)
    #expect(text.contains(#"mlhost_records_written_total{connector="c",kind="other",outcome="created"} 50"#))
  }
}
