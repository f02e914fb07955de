public import Prometheus
public import RateLimitCore

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

    public init(version: String, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        self.version = version
        inflight = registry.makeGauge(descriptor: Self.name("rate_limiter_inflight_requests", "API requests being processed."))
        shed = registry.makeCounter(descriptor: Self.name("rate_limiter_shed_total", "API requests refused with 503 because in-flight work was at its cap."))
        let reloads = Self.name("rate_limiter_config_reloads_total", "Configuration reloads by result.")
        reloadSuccess = registry.makeCounter(descriptor: reloads, labels: [("result", "success")])
        reloadFailure = registry.makeCounter(descriptor: reloads, labels: [("result", "failure")])
        registry.makeGauge(descriptor: Self.name("rate_limiter_build_info", "Build information; always 1."), labels: [("version", version)]).set(to: 1.0)
    }

    static func name(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// The decision recorder for one rule: its handles are created here, once.
    public func recorder(forRule rule: String) -> RuleMetrics {
        RuleMetrics(rule: rule, registry: registry)
    }

    /// The latency histogram of one API endpoint.
    public func duration(endpoint: String) -> DurationHistogram {
        registry.makeDurationHistogram(
            descriptor: Self.name("rate_limiter_request_duration_seconds", "Server-side latency of API calls."),
            labels: [("endpoint", endpoint)], buckets: Self.durationBuckets)
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

    /// `rate_limiter_active_clients{rule}`.
    public func activeClients(rule: String) -> Gauge {
        registry.makeGauge(descriptor: Self.name("rate_limiter_active_clients", "Keys with live state."), labels: [("rule", rule)])
    }

    /// The exposition: the registry plus process metrics read from /proc.
    public func render() -> [UInt8] {
        var buffer = registry.emitToBuffer()
        ProcessMetrics.sample().render(into: &buffer)
        return buffer
    }
}

/// One rule's metric handles; records each committed decision.
public final class RuleMetrics: DecisionRecorder {
    let allowed: Counter
    let denied: Counter
    let hits: Counter
    let shadowDenied: Counter
    let remaining: ValueHistogram

    init(rule: String, registry: PrometheusCollectorRegistry) {
        let requests = SluiceMetrics.name("rate_limiter_request_total", "Rate-limit decisions by rule and verdict.")
        allowed = registry.makeCounter(descriptor: requests, labels: [("rule", rule), ("allowed", "true")])
        denied = registry.makeCounter(descriptor: requests, labels: [("rule", rule), ("allowed", "false")])
        hits = registry.makeCounter(
            descriptor: SluiceMetrics.name("rate_limiter_hits_total", "Requests denied because this rule's limit was hit."),
            labels: [("rule", rule)])
        shadowDenied = registry.makeCounter(
            descriptor: SluiceMetrics.name("rate_limiter_shadow_denied_total", "Requests a shadow rule allowed but would have denied."),
            labels: [("rule", rule)])
        remaining = registry.makeValueHistogram(
            descriptor: SluiceMetrics.name("rate_limiter_token_bucket_size", "Units remaining after each decision."),
            labels: [("rule", rule)], buckets: SluiceMetrics.remainingBuckets)
    }

    public func record(allowed: Bool, limitHit: Bool, shadowDenied: Bool, remaining: Int64) {
        (allowed ? self.allowed : denied).increment()
        if limitHit { hits.increment() }
        if shadowDenied { self.shadowDenied.increment() }
        self.remaining.record(Double(remaining))
    }
}
