import Testing

@testable import MLHostSystems

/// Prometheus label values: plain ones as they are, backslash, quote and newline escaped.
@Suite struct MetricLabelTests {
  @Test func labelValuesAreEscapedOnlyWhereTheyMustBe() {
    #expect(
      HostMetrics.labels(["connector": "x3_shopify", "kind": "shopify.order"])
        == #"connector="x3_shopify",kind="shopify.order""#)
    #expect(HostMetrics.labels(["k": "a\\b\"c\nd é"]) == #"k="a\\b\"c\nd é""#)
  }
}
