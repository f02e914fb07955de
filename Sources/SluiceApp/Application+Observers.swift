import RateLimitGRPC
import RateLimitHTTP
import Prometheus
import RateLimitMetrics

/// `rate_limiter_request_duration_seconds{endpoint}` for the API's endpoints.
struct APIMetrics: APIObserver {
    /// By `APIHandler.Endpoint.position`.
    let durations: [LatencyHistogram]

    init(_ metrics: SluiceMetrics) {
        durations = APIHandler.Endpoint.allCases.map { metrics.duration(endpoint: $0.rawValue) }
    }

    func answered(_ endpoint: APIHandler.Endpoint, nanoseconds: Int64) {
        durations[endpoint.position].recordNanoseconds(nanoseconds)
    }
}

extension Application {
    /// `rate_limiter_connections{listener}` and `rate_limiter_connections_rejected_total{listener,reason}`.
    static func connectionObserver(_ metrics: SluiceMetrics, listener: ConnectionListener) -> ConnectionObserver {
        let (open, rejected) = metrics.connections(listener: listener.rawValue, reasons: ConnectionRejection.allCases.map(\.rawValue))
        return ConnectionObserver(
            opened: { open.increment() }, closed: { open.decrement() },
            rejected: { reason in rejected[reason.position].increment() })
    }
}

/// The gRPC methods' `rate_limiter_request_duration_seconds{endpoint}` and Envoy's
/// `rate_limiter_envoy_unmatched_descriptors_total{reason}`.
struct GRPCMetrics: GRPCObserver {
    /// By `GRPCEndpoint.position` and `UnmatchedDescriptor.position`.
    let durations: [LatencyHistogram]
    let unmatchedDescriptors: [Counter]

    init(_ metrics: SluiceMetrics) {
        durations = GRPCEndpoint.allCases.map { metrics.duration(endpoint: $0.rawValue) }
        unmatchedDescriptors = UnmatchedDescriptor.allCases.map { metrics.envoyUnmatched(reason: $0.rawValue) }
    }

    func answered(_ endpoint: GRPCEndpoint, nanoseconds: Int64) {
        durations[endpoint.position].recordNanoseconds(nanoseconds)
    }

    func unmatched(_ reason: UnmatchedDescriptor) {
        unmatchedDescriptors[reason.position].increment()
    }
}
