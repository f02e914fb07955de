/// A lease a check on a `concurrency` rule granted.
public struct GrantedLease: Sendable, Hashable {
    /// The id to release it with (`POST /v1/release`); unique per key while the key has state.
    public var id: UInt64
    /// Time until it expires unless released: the rule's `lease_ttl`.
    public var expiresAfter: Nanoseconds

    public init(id: UInt64, expiresAfter: Nanoseconds) {
        self.id = id
        self.expiresAfter = expiresAfter
    }
}

extension Decision {
    /// This decision without its lease (one that was not committed holds none).
    var withoutLease: Decision {
        var decision = self
        decision.lease = nil
        return decision
    }
}

extension Algorithms {
    /// Decides one check on a concurrency rule against the key's `leases` at `now` (issue 15).
    /// Cost 1 acquires a lease when fewer than `limit` are held; cost 0 peeks. `remaining` is the
    /// leases still free, `resetAfter` the time until the last held lease expires (the key is
    /// then a new key's), and a denial's `retryAfter` the time until the first one expires (at
    /// the latest: a release frees one sooner). Returns the decision, carrying the lease when
    /// one was granted, and the set to store if it is committed.
    public static func lease(_ leases: LeaseSet, now: Nanoseconds, cost: Int64, limits: Limits) -> (decision: Decision, next: LeaseSet) {
        var next = leases
        next.expire(now: now)
        var granted: GrantedLease?
        var retryAfter: Nanoseconds = 0
        if cost > 0 {
            switch next.acquire(now: now, limit: limits.limit, ttl: limits.period) {
            case .granted(let lease, _): granted = GrantedLease(id: lease.id, expiresAfter: lease.expires - now)
            case .denied(let wait): retryAfter = wait
            }
        }
        var decision = Decision(
            allowed: cost == 0 || granted != nil, limit: limits.limit, period: limits.period,
            remaining: max(limits.limit - Int64(next.held.count), 0), resetAfter: (next.held.last?.expires ?? now) - now,
            retryAfter: retryAfter)
        decision.lease = granted
        return (decision, next)
    }

    /// A concurrency rule seen through a `KeyState` (which holds no leases): a key holding none.
    /// The stores decide leases with `lease(_:now:cost:limits:)`, never through `step`.
    static func noLeases(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> Step {
        var decision = lease(LeaseSet(), now: now, cost: cost, limits: limits).decision
        decision.lease = nil
        return Step(decision: decision, next: state ?? KeyState(high: 0, low: 0))
    }

    /// A concurrency item's answer in a batch that was denied: its own verdict, the leases as
    /// they are, and no lease (nothing was acquired).
    static func unconsumedLease(_ leases: LeaseSet, now: Nanoseconds, cost: Int64, limits: Limits) -> Decision {
        var decision = lease(leases, now: now, cost: cost, limits: limits).decision
        let now = lease(leases, now: now, cost: 0, limits: limits).decision
        decision.remaining = now.remaining
        decision.resetAfter = now.resetAfter
        decision.lease = nil
        return decision
    }
}
