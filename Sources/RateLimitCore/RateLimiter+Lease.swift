/// One "free this lease" request (`POST /v1/release`).
public struct ReleaseRequest: Sendable, Hashable {
    public var rule: String
    public var key: String
    public var lease: UInt64

    public init(rule: String, key: String, lease: UInt64) {
        self.rule = rule
        self.key = key
        self.lease = lease
    }
}

extension RateLimiter {
    /// Validates a release: a known concurrency rule and a valid key. The check it returns peeks
    /// (cost 0) with the key's limits; its `item` is nil for an `unlimited` key, which holds no
    /// leases (its checks are granted none).
    public func prepare(release request: ReleaseRequest) throws(CheckError) -> PreparedCheck {
        let check = try prepare(CheckRequest(rule: request.rule, key: request.key, cost: 0))
        guard check.installed.limits.algorithm == .concurrency else { throw .notConcurrency(request.rule) }
        return check
    }

    /// Frees a lease in the memory store; answers the key's leases after it, as a status would.
    public func release(_ request: ReleaseRequest) throws(CheckError) -> Decision {
        let check = try prepare(release: request)
        guard let item = check.item else { return finish(check, stored: nil, commit: false) }
        do {
            return finish(check, stored: try store.release(request.lease, item, now: clock.now), commit: false)
        } catch {
            throw Self.checkError(error)
        }
    }

    /// Whether any installed rule is a concurrency rule (no rule lock taken).
    public var hasConcurrencyRules: Bool { concurrencyInstalled.load(ordering: .acquiring) }

    /// The algorithm of installed rule `name` (byte-exact), if there is one.
    public func algorithm(of name: String) -> Algorithm? {
        installed(name)?.limits.algorithm
    }

    /// Leases held now in this process's memory store, per concurrency rule, in rule order.
    public func leasesActive() -> [(rule: String, count: Int)] {
        let now = clock.now
        return rules.rules.compactMap { rule in
            guard rule.limits.algorithm == .concurrency, let installed = installed(rule.name) else { return nil }
            return (rule.name, store.leasesHeld(slot: installed.slot, now: now))
        }
    }

    /// A release's refusal as the caller's error.
    public static func checkError(_ error: LeaseSet.ReleaseError) -> CheckError {
        switch error {
        case .notHeld(let id): .leaseNotHeld(id)
        case .unknown(let id): .unknownLease(id)
        }
    }
}
