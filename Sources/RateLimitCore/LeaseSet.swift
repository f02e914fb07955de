/// The leases in flight for one key of a `concurrency` rule (issue 15, the first step): at most
/// `limit` at once, each expiring exactly `ttl` after it was granted unless released before.
/// A value type on the injected clock; not yet wired to rules, stores or transports.
public struct LeaseSet: Sendable, Hashable {
    /// One lease: its id (per key, counting up from `first`) and the instant it expires.
    public struct Lease: Sendable, Hashable {
        public var id: UInt64
        public var expires: Nanoseconds

        public init(id: UInt64, expires: Nanoseconds) {
            self.id = id
            self.expires = expires
        }
    }

    /// The answer to an acquire.
    public enum Acquired: Sendable, Hashable {
        /// Granted; `remaining` leases are still free.
        case granted(Lease, remaining: Int64)
        /// All `limit` leases are held; the first frees at the latest after `retryAfter`.
        case denied(retryAfter: Nanoseconds)
    }

    /// Why a release freed nothing.
    public enum ReleaseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The id was granted here but is no longer held: released already, or expired.
        case notHeld(UInt64)
        /// The id was never granted for this key.
        case unknown(UInt64)

        public var description: String {
            switch self {
            case .notHeld(let id): "lease \(id) is not held: it was already released or expired at its lease_ttl"
            case .unknown(let id): "lease \(id) was never granted for this key"
            }
        }
    }

    /// Leases held, in the order they were granted (so by expiry: one `ttl` for all of them).
    public private(set) var held: [Lease] = []
    /// The first id this set granted, and the id the next grant gets.
    public let first: UInt64
    public private(set) var next: UInt64

    /// - Parameter firstID: where this key's ids start. A key whose state was dropped (idle,
    ///   evicted, reset) must not start where its old ids were, or a stale id could free a new
    ///   caller's lease: the store seeds it (e.g. from the clock).
    public init(firstID: UInt64 = 1) {
        first = max(firstID, 1)
        next = first
    }

    /// Drops the leases whose expiry is at or before `now`: a lease lives exactly `ttl`.
    public mutating func expire(now: Nanoseconds) {
        if let live = held.firstIndex(where: { $0.expires > now }) {
            held.removeFirst(live)
        } else {
            held.removeAll()
        }
    }

    /// Grants a lease at `now` when fewer than `limit` are held.
    public mutating func acquire(now: Nanoseconds, limit: Int64, ttl: Nanoseconds) -> Acquired {
        expire(now: now)
        guard Int64(held.count) < limit else { return .denied(retryAfter: (held.first?.expires ?? now) - now) }
        let lease = Lease(id: next, expires: now + ttl)
        next += 1
        held.append(lease)
        return .granted(lease, remaining: limit - Int64(held.count))
    }

    /// Frees lease `id` at `now`.
    public mutating func release(_ id: UInt64, now: Nanoseconds) throws(ReleaseError) {
        expire(now: now)
        if let index = held.firstIndex(where: { $0.id == id }) {
            held.remove(at: index)
            return
        }
        throw id >= first && id < next ? .notHeld(id) : .unknown(id)
    }

    /// True when no lease is held at `now`: the state may be dropped (see `init(firstID:)`).
    public func isIdle(now: Nanoseconds) -> Bool {
        held.allSatisfy { $0.expires <= now }
    }
}
