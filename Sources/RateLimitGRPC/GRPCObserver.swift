import NIOCore

/// The gRPC endpoints, as the `endpoint` label of `rate_limiter_request_duration_seconds`.
public enum GRPCEndpoint: String, Sendable, CaseIterable {
    case checkLimit = "grpc_check"
    case checkBatch = "grpc_batch"
    case getStatus = "grpc_status"
    case report = "grpc_report"
    case shouldRateLimit = "envoy_should_rate_limit"

    /// Its position in `allCases`, without building `allCases` per call.
    public var position: Int {
        switch self {
        case .checkLimit: 0
        case .checkBatch: 1
        case .getStatus: 2
        case .report: 3
        case .shouldRateLimit: 4
        }
    }
}

/// Why an Envoy descriptor got no limit.
public enum UnmatchedDescriptor: String, Sendable, CaseIterable {
    /// No rule declares the request's domain.
    case unknownDomain = "unknown_domain"
    /// The domain is known, but no rule matches the descriptor's entries.
    case noRule = "no_rule"

    /// Its position in `allCases`.
    public var position: Int { self == .unknownDomain ? 0 : 1 }
}

/// Where the gRPC methods report what they did; the app turns the events into metrics (as
/// `APIObserver` does for the HTTP API), so the transport imports no metrics library.
public protocol GRPCObserver: Sendable {
    /// One call answered, with its server-side time in nanoseconds.
    func answered(_ endpoint: GRPCEndpoint, nanoseconds: Int64)
    /// One Envoy descriptor that matched no rule.
    func unmatched(_ reason: UnmatchedDescriptor)
}

/// Nanoseconds since `start` on the monotonic clock.
func elapsedNanoseconds(since start: NIODeadline) -> Int64 {
    (NIODeadline.now() - start).nanoseconds
}
