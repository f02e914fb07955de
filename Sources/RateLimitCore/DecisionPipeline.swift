import Synchronization

/// A store that decides elsewhere and answers later (Redis). The pipeline hands it validated
/// checks and finishes its answers (shadow, unlimited keys, recording) itself.
public protocol RemoteStore: Sendable {
    /// Decides the checks that have a store item, in order and atomically, and calls `done`
    /// exactly once, on any thread, with the decisions of those items. Fails only with
    /// `BackendUnavailable` (the failure policy refuses).
    /// - Parameter affinity: the caller's thread (its event loop), so the store may answer on it.
    func decide(
        _ checks: [PreparedCheck], commit: Bool, affinity: ObjectIdentifier?,
        done: @escaping @Sendable (Result<BatchDecision, BackendUnavailable>) -> Void)
    /// Forgets one key's state; calls `done` exactly once, on any thread.
    func reset(_ check: PreparedCheck, affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<Void, BackendUnavailable>) -> Void)
    /// Records the reports that have a store item, in order, each atomically with its `id`'s
    /// idempotency; calls `done` exactly once, on any thread, with their answers.
    func report(
        _ reports: [PreparedReport], affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<[Report], BackendUnavailable>) -> Void)
    /// Frees lease `lease` of a concurrency rule's key (`check` has an item); calls `done`
    /// exactly once, on any thread, with the key's leases after it or why nothing was freed.
    func release(
        _ check: PreparedCheck, lease: UInt64, affinity: ObjectIdentifier?,
        done: @escaping @Sendable (Result<Result<Decision, LeaseSet.ReleaseError>, BackendUnavailable>) -> Void)
}

extension RemoteStore {
    /// A store that cannot record reports refuses them.
    public func report(
        _ reports: [PreparedReport], affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<[Report], BackendUnavailable>) -> Void
    ) {
        done(.failure(BackendUnavailable(reason: "this store does not record reports")))
    }

    /// A store that keeps no leases refuses releases.
    public func release(
        _ check: PreparedCheck, lease: UInt64, affinity: ObjectIdentifier?,
        done: @escaping @Sendable (Result<Result<Decision, LeaseSet.ReleaseError>, BackendUnavailable>) -> Void
    ) {
        done(.failure(BackendUnavailable(reason: "this store keeps no leases")))
    }
}

/// Raised when a shared backend cannot answer and its policy is `deny`, and for a reset (which
/// only the backend can do) whatever the policy. Transports answer it with 503 / `UNAVAILABLE`.
public struct BackendUnavailable: Error, Sendable, CustomStringConvertible {
    public var reason: String
    /// True for a reset: no `on_failure` policy can answer it (red team 2, F18).
    public var reset = false
    /// True for a lease's release: no policy can answer it either (the lease then expires at
    /// its `lease_ttl`).
    public var release = false

    public init(reason: String, reset: Bool = false, release: Bool = false) {
        self.reason = reason
        self.reset = reset
        self.release = release
    }

    public var description: String {
        if reset { return "the Redis backend is unavailable (\(reason)); a reset needs Redis whatever on_failure says" }
        if release {
            return "the Redis backend is unavailable (\(reason)); a release needs Redis whatever on_failure says, and the lease expires at its lease_ttl"
        }
        return "the Redis backend is unavailable (\(reason)) and on_failure is deny"
    }
}

/// What a transport asks: one check, or a batch decided together.
public enum Checks: Sendable, Hashable {
    case one(CheckRequest)
    case batch([CheckRequest])
}

/// What the pipeline decided, in the shape it was asked.
public enum Verdict: Sendable, Hashable {
    case one(Decision)
    case batch(BatchDecision)

    /// The batch view: a single decision is a batch of one.
    public var batch: BatchDecision {
        switch self {
        case .one(let decision): BatchDecision(allowed: decision.allowed, decisions: [decision])
        case .batch(let batch): batch
        }
    }
}

/// Why the pipeline gave no decision. Transports map each case once: 400/404, 503 with
/// `Retry-After`, and gRPC's `INVALID_ARGUMENT`/`NOT_FOUND` and `UNAVAILABLE`.
public enum PipelineError: Error, Sendable, CustomStringConvertible {
    /// The caller's mistake (unknown rule, bad key or cost, bad batch).
    case invalid(CheckError)
    /// More than `cap` calls were waiting for the backend.
    case shed(cap: Int)
    /// The backend could not answer and its policy refuses.
    case unavailable(BackendUnavailable)

    public var description: String {
        switch self {
        case .invalid(let error): error.description
        case .shed(let cap): "too many requests in flight (cap \(cap)); retry shortly"
        case .unavailable(let error): error.description
        }
    }
}

/// Work a remote store will finish. `run` must be called exactly once; it counts as in flight
/// until `done` is called.
public struct PendingCall<Value: Sendable>: Sendable {
    let start: @Sendable (ObjectIdentifier?, @escaping @Sendable (Result<Value, PipelineError>) -> Void) -> Void

    /// Starts the call; `done` runs once, on any thread (the transport hops to its own).
    public func run(affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<Value, PipelineError>) -> Void) {
        start(affinity, done)
    }
}

/// An answer now, or a call to start whose answer comes later.
public enum PipelineStep<Value: Sendable>: Sendable {
    case now(Result<Value, PipelineError>)
    case later(PendingCall<Value>)
}

/// Receives the pipeline's load (metrics live behind this).
public protocol PipelineObserver: Sendable {
    /// Calls now waiting for the backend.
    func inflight(_ count: Int)
    /// One call refused because `maxInflight` were already waiting.
    func shed()
}

/// THE decision pipeline: every transport (HTTP, gRPC, Envoy RLS) and every backend (memory,
/// remote) meet here. Validation, overrides, shadow handling and recording happen in the
/// limiter, once; the memory store decides on the caller's thread, a remote store later.
/// Calls waiting for a remote store are bounded by `maxInflight` (one count for every socket).
public final class DecisionPipeline: Sendable {
    public let limiter: RateLimiter
    public let remote: (any RemoteStore)?
    public let maxInflight: Int
    let observer: (any PipelineObserver)?
    private let inflight = Atomic<Int>(0)

    public init(limiter: RateLimiter, remote: (any RemoteStore)? = nil, maxInflight: Int = 4096, observer: (any PipelineObserver)? = nil) {
        self.limiter = limiter
        self.remote = remote
        self.maxInflight = maxInflight
        self.observer = observer
    }

    /// Decides `checks`: consuming their cost when `commit` is true (a check), or not (a status).
    public func decide(_ checks: Checks, commit: Bool) -> PipelineStep<Verdict> {
        guard let remote else { return .now(decideInMemory(checks, commit: commit)) }
        return admitted { () throws(CheckError) -> PendingCall<Verdict> in
            let single: Bool
            let prepared: [PreparedCheck]
            switch checks {
            case .one(let request): (single, prepared) = (true, [try limiter.prepare(request)])
            case .batch(let requests): (single, prepared) = (false, try limiter.prepare(batch: requests))
            }
            let limiter = self.limiter
            return PendingCall { affinity, done in
                remote.decide(prepared, commit: commit, affinity: affinity) { stored in
                    done(stored.map { stored in
                        single
                            ? .one(limiter.finish(prepared[0], stored: stored.decisions.first, commit: commit))
                            : .batch(limiter.finish(batch: prepared, stored: stored, commit: commit))
                    }.mapError(PipelineError.unavailable))
                }
            }
        }
    }

    /// Forgets one key's state under `rule`.
    public func reset(rule: String, key: String) -> PipelineStep<Void> {
        guard let remote else {
            do throws(CheckError) {
                try limiter.reset(rule: rule, key: key)
                return .now(.success(()))
            } catch {
                return .now(.failure(.invalid(error)))
            }
        }
        return admitted { () throws(CheckError) -> PendingCall<Void> in
            let check = try limiter.prepare(CheckRequest(rule: rule, key: key, cost: 0))
            return PendingCall { affinity, done in
                remote.reset(check, affinity: affinity) { done($0.mapError(PipelineError.unavailable)) }
            }
        }
    }

    /// Records usage that already happened (`POST /v1/report`): each report in order, none
    /// refused by another; answers the key's state after each.
    public func report(_ requests: [ReportRequest]) -> PipelineStep<[Report]> {
        guard let remote else {
            do throws(CheckError) {
                return .now(.success(try limiter.report(requests)))
            } catch {
                return .now(.failure(.invalid(error)))
            }
        }
        return admitted { () throws(CheckError) -> PendingCall<[Report]> in
            let prepared = try limiter.prepare(reports: requests)
            let limiter = self.limiter
            return PendingCall { affinity, done in
                remote.report(prepared, affinity: affinity) { stored in
                    done(stored.map { stored in
                        var next = stored.makeIterator()
                        return prepared.map { check in limiter.finish(check, stored: check.item == nil ? nil : next.next()) }
                    }.mapError(PipelineError.unavailable))
                }
            }
        }
    }

    /// Frees a concurrency lease (`POST /v1/release`); answers the key's leases after it.
    public func release(_ request: ReleaseRequest) -> PipelineStep<Decision> {
        guard let remote else {
            do throws(CheckError) {
                return .now(.success(try limiter.release(request)))
            } catch {
                return .now(.failure(.invalid(error)))
            }
        }
        return admitted { () throws(CheckError) -> PendingCall<Decision> in
            let check = try limiter.prepare(release: request)
            let limiter = self.limiter
            return PendingCall { affinity, done in
                guard check.item != nil else { return done(.success(limiter.finish(check, stored: nil, commit: false))) }
                remote.release(check, lease: request.lease, affinity: affinity) { stored in
                    done(stored.mapError(PipelineError.unavailable).flatMap { released in
                        released.map { limiter.finish(check, stored: $0, commit: false) }
                            .mapError { .invalid(RateLimiter.checkError($0)) }
                    })
                }
            }
        }
    }

    /// The memory store, on the caller's thread.
    private func decideInMemory(_ checks: Checks, commit: Bool) -> Result<Verdict, PipelineError> {
        do throws(CheckError) {
            switch checks {
            case .one(let request): return .success(.one(commit ? try limiter.check(request) : try limiter.status(request)))
            case .batch(let requests): return .success(.batch(commit ? try limiter.check(batch: requests) : try limiter.status(batch: requests)))
            }
        } catch {
            return .failure(.invalid(error))
        }
    }

    /// Validates first (a caller error is answered now, whatever the load), then counts the
    /// call in flight from admission to its answer; beyond `maxInflight` it is shed.
    private func admitted<Value: Sendable>(_ prepare: () throws(CheckError) -> PendingCall<Value>) -> PipelineStep<Value> {
        let call: PendingCall<Value>
        do throws(CheckError) {
            call = try prepare()
        } catch {
            return .now(.failure(.invalid(error)))
        }
        let count = inflight.wrappingAdd(1, ordering: .relaxed).newValue
        guard count <= maxInflight else {
            release()
            observer?.shed()
            return .now(.failure(.shed(cap: maxInflight)))
        }
        observer?.inflight(count)
        return .later(PendingCall { affinity, done in
            call.run(affinity: affinity) { result in
                self.release()
                done(result)
            }
        })
    }

    private func release() {
        observer?.inflight(inflight.wrappingSubtract(1, ordering: .relaxed).newValue)
    }
}
