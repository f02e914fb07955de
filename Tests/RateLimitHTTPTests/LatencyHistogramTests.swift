import Prometheus
@testable import RateLimitMetrics
import Testing

/// `LatencyHistogram` (`rate_limiter_request_duration_seconds`): striped per thread, and exposed
/// byte for byte as swift-prometheus's histogram exposed it.
@Suite struct LatencyHistogramTests {
    /// Every bound exactly (`le` is inclusive), one nanosecond past each, the extremes, and 0.
    static let values: [Int64] = SluiceMetrics.durationBuckets.flatMap { bound -> [Int64] in
        let ns = Int64(bound.components.seconds) * 1_000_000_000 + bound.components.attoseconds / 1_000_000_000
        return [ns, ns + 1]
    } + [0, 1, 3_000_000_000, 999]

    @Test func theExpositionIsSwiftPrometheus() {
        let registry = PrometheusCollectorRegistry()
        let theirs = registry.makeDurationHistogram(
            name: LatencyHistograms.name, labels: [("endpoint", "check")], buckets: SluiceMetrics.durationBuckets)
        let family = LatencyHistograms(buckets: SluiceMetrics.durationBuckets)
        let mine = family.histogram(endpoint: "check")
        for value in Self.values {
            theirs.recordNanoseconds(value)
            mine.recordNanoseconds(value)
        }
        var buffer: [UInt8] = []
        family.render(into: &buffer)
        let lines = String(decoding: buffer, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("#") }
        let expected = registry.emitToString().split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(lines == expected)
        #expect(lines.count == SluiceMetrics.durationBuckets.count + 3)
    }

    @Test func recordsFromManyThreadsAreAllCounted() async {
        let family = LatencyHistograms(buckets: SluiceMetrics.durationBuckets)
        let histogram = family.histogram(endpoint: "check")
        #expect(family.histogram(endpoint: "check") === histogram)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<16 {
                group.addTask {
                    for i in 0..<1_000 { histogram.recordNanoseconds(Int64(task * 1_000 + i)) }
                }
            }
        }
        let (buckets, sum) = histogram.snapshot()
        #expect(buckets.reduce(0, +) == 16_000)
        #expect(sum == UInt64((0..<16_000).reduce(0, +)))
        #expect(buckets[0] == 5_001)  // 0 through 5,000 ns: le 5 µs
    }
}
