public import Prometheus
public import RateLimitCore
import Synchronization

/// Every metric Sluice exports (names and labels as in DESIGN.md §5), registered once.
///
/// We use the Prometheus registry directly rather than the swift-metrics facade: the facade's
/// factory registers no HELP text (which `promtool check metrics` flags), and direct handles
/// skip an existential hop on the hot path.
public final class SluiceMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let inflight: Gauge
    public let shed: Counter
    public let reloadSuccess: Counter
    public let reloadFailure: Counter
    /// `rate_limiter_config_last_reload_success` (0/1) and its success timestamp.
    public let configLastReloadSuccess: Gauge
    public let configLastReloadSuccessTimestamp: Gauge
    /// `rate_limiter_tracked_keys`, its cap, and `rate_limiter_keys_evicted_total{reason}`.
    public let trackedKeys: Gauge
    public let trackedKeysLimit: Gauge
    public let keysEvictedIdle: Counter
    public let keysEvictedCapacity: Counter
    /// `rate_limiter_state_restored_keys` and `rate_limiter_state_restore_failures_total`.
    public let stateRestoredKeys: Gauge
    public let stateRestoreFailures: Counter
    private let evictedSeen = Mutex(0)
    private let configInfo = Mutex<(sha256: String, gauge: Gauge)?>(nil)
    private let version: String

    /// Buckets for `rate_limiter_request_duration_seconds`: 5 µs … 1 s.
    public static let durationBuckets: [Duration] = [
        .microseconds(5), .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100),
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1),
    ]
    /// Buckets for `rate_limiter_token_bucket_size` (remaining units after a decision).
    public static let remainingBuckets: [Double] = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000]

    public init(
        version: String, revision: String = "unknown", topKeys: TopKeysSettings = TopKeysSettings(),
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        rules = RuleMetricsTable(topKeys: topKeys)
        self.registry = registry
        self.version = version
        inflight = registry.makeGauge(descriptor: Self.name("rate_limiter_inflight_requests", "Checks and calls of every socket waiting for the backend."))
        shed = registry.makeCounter(descriptor: Self.name("rate_limiter_shed_total", "Checks and calls refused (503, UNAVAILABLE) because --max-inflight were waiting for the backend."))
        let reloads = Self.name("rate_limiter_config_reloads_total", "Configuration reloads by result.")
        reloadSuccess = registry.makeCounter(descriptor: reloads, labels: [("result", "success")])
        reloadFailure = registry.makeCounter(descriptor: reloads, labels: [("result", "failure")])
        configLastReloadSuccess = registry.makeGauge(descriptor: Self.name(
            "rate_limiter_config_last_reload_success", "1 when the last configuration load succeeded, 0 while the file is bad."))
        configLastReloadSuccessTimestamp = registry.makeGauge(descriptor: Self.name(
            "rate_limiter_config_last_reload_success_timestamp_seconds", "Unix time of the last successful configuration load."))
        trackedKeys = registry.makeGauge(descriptor: Self.name("rate_limiter_tracked_keys", "Keys with state in this process's memory, all rules."))
        trackedKeysLimit = registry.makeGauge(descriptor: Self.name(
            "rate_limiter_tracked_keys_limit", "The cap on tracked keys (--max-keys)."))

        let evicted = Self.name("rate_limiter_keys_evicted_total", "Key states evicted: idle (back to a new key's state) or capacity (at the key cap).")
        keysEvictedIdle = registry.makeCounter(descriptor: evicted, labels: [("reason", "idle")])
        keysEvictedCapacity = registry.makeCounter(descriptor: evicted, labels: [("reason", "capacity")])
        stateRestoredKeys = registry.makeGauge(descriptor: Self.name(
            "rate_limiter_state_restored_keys", "Key states restored from --state-file at start."))
        stateRestoreFailures = registry.makeCounter(descriptor: Self.name(
            "rate_limiter_state_restore_failures_total", "State files at start that could not be used (corrupt, foreign, unreadable)."))
        registry.makeGauge(
            descriptor: Self.name("rate_limiter_build_info", "Build information; always 1."),
            labels: [("version", version), ("revision", revision)]
        ).set(to: 1.0)
    }

    /// Moves `rate_limiter_keys_evicted_total{reason="capacity"}` up to the store's running total.
    public func evictedAtCapacity(total: Int) {
        let delta = evictedSeen.withLock { seen in
            defer { seen = max(seen, total) }
            return total - seen
        }
        if delta > 0 { keysEvictedCapacity.increment(by: Double(delta)) }
    }

    /// A configuration load succeeded (`true`, at `unixSeconds`) or failed.
    public func configLoaded(_ success: Bool, unixSeconds: Double) {
        configLastReloadSuccess.set(to: success ? 1 : 0)
        if success { configLastReloadSuccessTimestamp.set(to: unixSeconds) }
    }

    /// `rate_limiter_config_info{sha256}` = 1 for the rules in force (one series at a time).
    public func rulesInForce(sha256: String) {
        configInfo.withLock { current in
            guard current?.sha256 != sha256 else { return }
            if let old = current?.gauge { registry.unregisterGauge(old) }
            let gauge = registry.makeGauge(
                descriptor: Self.name("rate_limiter_config_info", "Always 1; sha256 identifies the rules in force, admin changes included."),
                labels: [("sha256", sha256)])
            gauge.set(to: 1)
            current = (sha256, gauge)
        }
    }

    /// `rate_limiter_connections{listener}` and `rate_limiter_connections_rejected_total{listener,reason}`,
    /// one counter per reason given, in their order.
    public func connections(listener: String, reasons: [String]) -> (open: Gauge, rejected: [Counter]) {
        let open = registry.makeGauge(
            descriptor: Self.name("rate_limiter_connections", "Open connections per listener."), labels: [("listener", listener)])
        let rejected = reasons.map { reason in
            registry.makeCounter(
                descriptor: Self.name(
                    "rate_limiter_connections_rejected_total",
                    "Connections closed at the cap: idle_drained (an idle one made room) or all_busy (the new one was refused)."),
                labels: [("listener", listener), ("reason", reason)])
        }
        return (open, rejected)
    }

    static func name(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// The per-rule series (decisions, hits, remaining, active clients), rendered by Sluice
    /// itself: adding or removing a rule is O(1) and a removed rule's series disappear.
    public let rules: RuleMetricsTable

    /// The decision recorder for one rule: the same object for the same name until the rule is
    /// removed (`retire`), so a changed rule keeps counting.
    public func recorder(forRule rule: String) -> RuleMetrics {
        rules.recorder(forRule: rule)
    }

    /// `rate_limiter_request_duration_seconds`, rendered by Sluice (`LatencyHistogram`).
    let durations = LatencyHistograms(buckets: durationBuckets)

    /// The latency histogram of one API endpoint: the same object for the same endpoint.
    public func duration(endpoint: String) -> LatencyHistogram {
        durations.histogram(endpoint: endpoint)
    }

    /// `rate_limiter_backend_up{backend}`.
    public func backendUp(_ backend: String) -> Gauge {
        registry.makeGauge(descriptor: Self.name("rate_limiter_backend_up", "1 when the backend is usable."), labels: [("backend", backend)])
    }

    /// `rate_limiter_envoy_unmatched_descriptors_total{reason}`: Envoy descriptors no rule limits.
    public func envoyUnmatched(reason: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.name("rate_limiter_envoy_unmatched_descriptors_total", "Envoy RLS descriptors that matched no rule, by reason."),
            labels: [("reason", reason)])
    }


    /// The exposition: the registry plus process metrics read from /proc.
    /// - Parameter now: the limiter's clock, for the top-keys series.
    public func render(now: Nanoseconds = 0) -> [UInt8] {
        var buffer = registry.emitToBuffer()
        durations.render(into: &buffer)
        rules.render(into: &buffer, now: now)
        ProcessMetrics.sample().render(into: &buffer)
        return buffer
    }
}

/// The decision pipeline's load: `rate_limiter_inflight_requests` (calls of every socket
/// waiting for the backend) and `rate_limiter_shed_total`.
public struct PipelineMetrics: PipelineObserver {
    let metrics: SluiceMetrics

    public init(_ metrics: SluiceMetrics) { self.metrics = metrics }

    public func inflight(_ count: Int) { metrics.inflight.set(to: Double(count)) }
    public func shed() { metrics.shed.increment() }
}
