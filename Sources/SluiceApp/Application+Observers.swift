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

    /// The gRPC methods' durations and Envoy's unmatched descriptors.
    static func grpcObservers(_ metrics: SluiceMetrics) -> GRPCObservers {
        let durations = GRPCEndpoint.allCases.map { metrics.duration(endpoint: $0.rawValue) }
        let unmatched = UnmatchedDescriptor.allCases.map { metrics.envoyUnmatched(reason: $0.rawValue) }
        return GRPCObservers(
            duration: { endpoint, ns in durations[endpoint.position].recordNanoseconds(ns) },
            unmatched: { reason in unmatched[reason.position].increment() })
    }
}
