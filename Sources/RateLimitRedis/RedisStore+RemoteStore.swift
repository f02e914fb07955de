public import RateLimitCore

/// The Redis store as the pipeline's remote store: each call runs on the connection of the
/// caller's event loop (`affinity`), and answers there.
extension RedisStore: RemoteStore {
    public func decide(
        _ checks: [PreparedCheck], commit: Bool, affinity: ObjectIdentifier?,
        done: @escaping @Sendable (Result<BatchDecision, BackendUnavailable>) -> Void
    ) {
        decide(checks, commit: commit, on: eventLoop(for: affinity)) { done($0.mapError(Self.unavailable)) }
    }

    public func reset(_ check: PreparedCheck, affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<Void, BackendUnavailable>) -> Void) {
        reset(check, on: eventLoop(for: affinity)).whenComplete { done($0.mapError(Self.unavailable)) }
    }

    public func report(
        _ reports: [PreparedReport], affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<[Report], BackendUnavailable>) -> Void
    ) {
        report(reports, on: eventLoop(for: affinity)).whenComplete { done($0.mapError(Self.unavailable)) }
    }

    public func release(
        _ check: PreparedCheck, lease: UInt64, affinity: ObjectIdentifier?,
        done: @escaping @Sendable (Result<Result<Decision, LeaseSet.ReleaseError>, BackendUnavailable>) -> Void
    ) {
        release(check, lease: lease, on: eventLoop(for: affinity)).whenComplete { done($0.mapError(Self.unavailable)) }
    }

    private static func unavailable(_ error: any Error) -> BackendUnavailable {
        error as? BackendUnavailable ?? BackendUnavailable(reason: "\(error)")
    }
}
