public import RateLimitCore
import Prometheus

/// The shared backend's metrics (DESIGN.md §5), every handle created once up front:
/// `rate_limiter_redis_operations_total`, `rate_limiter_redis_operation_duration_seconds`,
/// `rate_limiter_backend_fallback_total`, `rate_limiter_backend_up` and
/// `rate_limiter_redis_cached_denials_total`.
public final class BackendMetrics: BackendObserver {
    /// The operations and statuses the Redis store reports.
    public static let operations = ["evalsha", "eval", "del", "ping"]
    public static let statuses = ["ok", "error", "timeout", "unavailable"]

    private let counts: [String: Counter]
    private let durations: [String: DurationHistogram]
    private let fallbacks: [FailurePolicy: Counter]
    private let up: Gauge
    private let cached: Counter

    /// Buckets for Redis round trips: 50 µs … 1 s.
    public static let durationBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
        .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
    ]

    public init(metrics: SluiceMetrics, backend: String = "redis") {
        let registry = metrics.registry
        let operationsName = SluiceMetrics.name("rate_limiter_redis_operations_total", "Redis operations by operation and status.")
        let durationName = SluiceMetrics.name("rate_limiter_redis_operation_duration_seconds", "Latency of Redis operations.")
        var counts: [String: Counter] = [:]
        var durations: [String: DurationHistogram] = [:]
        for operation in Self.operations {
            for status in Self.statuses {
                counts["\(operation)/\(status)"] = registry.makeCounter(
                    descriptor: operationsName, labels: [("operation", operation), ("status", status)])
            }
            durations[operation] = registry.makeDurationHistogram(
                descriptor: durationName, labels: [("operation", operation)], buckets: Self.durationBuckets)
        }
        self.counts = counts
        self.durations = durations
        let fallbackName = SluiceMetrics.name(
            "rate_limiter_backend_fallback_total", "Requests decided by the failure policy because the backend could not answer.")
        var fallbacks: [FailurePolicy: Counter] = [:]
        for policy in FailurePolicy.allCases {
            fallbacks[policy] = registry.makeCounter(descriptor: fallbackName, labels: [("mode", policy.rawValue)])
        }
        self.fallbacks = fallbacks
        up = metrics.backendUp(backend)
        up.set(to: 0)
        cached = registry.makeCounter(descriptor: SluiceMetrics.name(
            "rate_limiter_redis_cached_denials_total", "Requests denied from the local over-limit cache without asking Redis."))
    }

    public func operation(_ operation: String, status: String, seconds: Double) {
        counts["\(operation)/\(status)"]?.increment()
        durations[operation]?.recordNanoseconds(Int64(seconds * 1e9))
    }

    public func backendUp(_ up: Bool) { self.up.set(to: up ? 1 : 0) }

    public func fallback(_ policy: FailurePolicy) { fallbacks[policy]?.increment() }

    public func cachedDenial() { cached.increment() }
}
