public import NIOCore
public import RateLimitCore

/// A backend that decides elsewhere (Redis), answering later on the given event loop. Its
/// futures fail only when the backend is unavailable and its policy says to refuse
/// (→ `UNAVAILABLE`).
public protocol GRPCRemoteDecider: Sendable {
    /// Decides the checks that have a store item, in order, atomically.
    func decide(_ checks: [PreparedCheck], commit: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<BatchDecision>
}

/// The gRPC endpoints, as the `endpoint` label of `rate_limiter_request_duration_seconds`.
public enum GRPCEndpoint: String, Sendable, CaseIterable {
    case checkLimit = "grpc_check"
    case checkBatch = "grpc_batch"
    case getStatus = "grpc_status"
    case shouldRateLimit = "envoy_should_rate_limit"
}

/// Why an Envoy descriptor got no limit.
public enum UnmatchedDescriptor: String, Sendable, CaseIterable {
    /// No rule declares the request's domain.
    case unknownDomain = "unknown_domain"
    /// The domain is known, but no rule matches the descriptor's entries.
    case noRule = "no_rule"
}

/// Where the gRPC methods report what they did (metrics live behind these).
public struct GRPCObservers: Sendable {
    /// Server-side time of one answered call, in nanoseconds.
    public var duration: @Sendable (GRPCEndpoint, Int64) -> Void
    /// One Envoy descriptor that matched no rule.
    public var unmatched: @Sendable (UnmatchedDescriptor) -> Void
    /// One call refused because too many were in flight.
    public var shed: @Sendable () -> Void

    public init(
        duration: @escaping @Sendable (GRPCEndpoint, Int64) -> Void = { _, _ in },
        unmatched: @escaping @Sendable (UnmatchedDescriptor) -> Void = { _ in },
        shed: @escaping @Sendable () -> Void = {}
    ) {
        self.duration = duration
        self.unmatched = unmatched
        self.shed = shed
    }
}

/// Nanoseconds since `start` on the monotonic clock.
func elapsedNanoseconds(since start: NIODeadline) -> Int64 {
    (NIODeadline.now() - start).nanoseconds
}
