/// Which store gave a decision (`explain`).
public enum DecisionStore: String, Sendable, Hashable {
    /// This process's memory store (the memory backend).
    case memory
    /// The Lua scripts in Redis.
    case redis
    /// Redis could not answer; `on_failure: local` decided with this pod's memory store.
    case localFallback = "local_fallback"
    /// Redis said "denied until T" for this key before; denied locally without a round trip.
    case cachedDenial = "cached_denial"
    /// Redis could not answer; `on_failure: allow` allowed without deciding.
    case failurePolicy = "failure_policy"
    /// No store: the key is `unlimited`.
    case none
}

/// Why a check got its answer: the rule and override that applied, the limits, the store that
/// decided, the key's raw state (memory stores) and when the request would be allowed.
public struct Explanation: Sendable, Hashable {
    public var rule: String
    /// The key, when an exact-key override of the rule matched it.
    public var override: String?
    /// The limits applied (the override's, when one matched); nil for an unlimited key.
    public var limits: Limits?
    public var store: DecisionStore
    /// The key's state after the call, in the units of `fields`; nil when the store is not this
    /// process's memory (Redis keeps its own) or the key has no state (a new or idle key).
    public var state: KeyState?
    /// The instant (clock nanoseconds) the same request would be allowed: now when it was.
    public var allowedAt: Nanoseconds

    /// The state in plain units, by algorithm:
    /// - token and leaky bucket: `tat_ns`, the theoretical arrival time: the bucket is full again
    ///   then, and a request of cost c is allowed from `tat_ns − (burst − c) × period / limit`;
    /// - fixed window: `window_start_ns` and `count`;
    /// - sliding window: `window_start_ns`, `current` and `previous` (the window before).
    public var fields: [(name: String, value: Int64)] {
        guard let state, let limits else { return [] }
        switch limits.algorithm {
        case .tokenBucket, .leakyBucket:
            return [("tat_ns", Wide.ceilDiv(state.wide, limits.limit))]
        case .fixedWindow:
            return [("window_start_ns", state.high &* limits.period), ("count", state.low)]
        case .concurrency:
            return []  // leases are not a `KeyState`
        case .slidingWindow:
            return [("window_start_ns", state.high &* limits.period), ("current", state.low >> 32), ("previous", state.low & 0xFFFF_FFFF)]
        }
    }
}

extension RateLimiter {
    /// Explains `decision`, the answer to `request` just given (nil for an unknown rule).
    public func explain(_ request: CheckRequest, _ decision: Decision) -> Explanation? {
        guard let installed = installed(request.rule) else { return nil }
        let rule = installed.rule
        let override = rule.override(for: request.key)
        let limits: Limits? = if case .limited(let own) = override ?? .limited(rule.limits) { own } else { nil }
        var state: KeyState?
        if decision.store == .memory || decision.store == .localFallback {
            state = store.state(slot: installed.slot, key: request.key)
        }
        return Explanation(
            rule: rule.name, override: override == nil ? nil : request.key, limits: limits, store: decision.store, state: state,
            allowedAt: clock.now + (decision.allowed ? 0 : decision.retryAfter))
    }
}
