import GRPCCore
public import RateLimitCore

/// A backend that decides elsewhere (Redis), asynchronously. It throws only when the backend is
/// unavailable and its policy says to refuse (→ gRPC `unavailable`).
public protocol AsyncRemoteDecider: Sendable {
    /// Decides the checks that have a store item, in order, atomically.
    func decide(_ checks: [PreparedCheck], commit: Bool) async throws -> BatchDecision
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

/// Where the gRPC services report what they did (metrics live behind these).
public struct GRPCObservers: Sendable {
    /// Server-side time of one answered call, in nanoseconds.
    public var duration: @Sendable (GRPCEndpoint, Int64) -> Void
    /// One Envoy descriptor that matched no rule.
    public var unmatched: @Sendable (UnmatchedDescriptor) -> Void

    public init(
        duration: @escaping @Sendable (GRPCEndpoint, Int64) -> Void = { _, _ in },
        unmatched: @escaping @Sendable (UnmatchedDescriptor) -> Void = { _ in }
    ) {
        self.duration = duration
        self.unmatched = unmatched
    }
}

/// Decides checks in memory, or through the remote backend when there is one; maps the core's
/// errors to gRPC statuses.
struct GRPCDecider: Sendable {
    let limiter: RateLimiter
    let remote: (any AsyncRemoteDecider)?

    /// One check, or a batch when `single` is false (in memory, a single check takes the
    /// limiter's faster single-check path).
    func decide(_ requests: [CheckRequest], single: Bool, commit: Bool) async throws -> BatchDecision {
        do {
            guard let remote else {
                if single, let request = requests.first {
                    let decision = commit ? try limiter.check(request) : try limiter.status(request)
                    return BatchDecision(allowed: decision.allowed, decisions: [decision])
                }
                return commit ? try limiter.check(batch: requests) : try limiter.status(batch: requests)
            }
            let checks = try limiter.prepare(batch: requests)  // a single check is a batch of one here
            let stored: BatchDecision
            do {
                stored = try await remote.decide(checks, commit: commit)
            } catch {
                throw RPCError(code: .unavailable, message: "rate-limit backend unavailable: \(error)")
            }
            return limiter.finish(batch: checks, stored: stored, commit: commit)
        } catch let error as CheckError {
            throw RPCError(error)
        }
    }
}

extension RPCError {
    /// Unknown rule → `notFound`; any other caller error → `invalidArgument`.
    init(_ error: CheckError) {
        switch error {
        case .unknownRule: self.init(code: .notFound, message: error.description)
        default: self.init(code: .invalidArgument, message: error.description)
        }
    }
}

/// Nanoseconds since `start` on the monotonic clock.
func elapsedNanoseconds(since start: ContinuousClock.Instant) -> Int64 {
    let elapsed = ContinuousClock.now - start
    return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
}
