import RateLimitCore
import Testing

/// Concurrency leases through the limiter and the memory store (issue 15): acquire to the limit,
/// deny, release, expiry at exactly `lease_ttl`, double release and unknown leases, batches,
/// sweeps and resets, at exact instants on the manual clock.
@Suite struct LeaseTests {
    let ttl = 10 * second

    func leases(_ limit: Int64 = 2) -> (RateLimiter, ManualClock) {
        makeLimiter(rule("jobs", .concurrency, limit, per: ttl), rule("api", .fixedWindow, 5, per: 60 * second))
    }

    func acquire(_ limiter: RateLimiter, _ key: String = "k") throws -> Decision {
        try limiter.check(CheckRequest(rule: "jobs", key: key))
    }

    func release(_ limiter: RateLimiter, _ id: UInt64?, _ key: String = "k") throws -> Decision {
        try limiter.release(ReleaseRequest(rule: "jobs", key: key, lease: try #require(id)))
    }

    @Test func acquireToTheLimitDenyThenReleaseFreesOne() throws {
        let (limiter, clock) = leases()
        let first = try acquire(limiter)
        #expect(first.allowed && first.remaining == 1 && first.resetAfter == ttl)
        #expect(first.lease == GrantedLease(id: 1, expiresAfter: ttl))
        clock.advance(by: 3 * second)
        #expect(try acquire(limiter).lease == GrantedLease(id: 2, expiresAfter: ttl))
        clock.advance(by: second)
        let denied = try acquire(limiter)
        #expect(!denied.allowed && denied.lease == nil)
        #expect(denied.remaining == 0 && denied.retryAfter == 6 * second && denied.resetAfter == 9 * second)
        let after = try release(limiter, first.lease?.id)
        #expect(after.allowed && after.remaining == 1 && after.resetAfter == 9 * second && after.lease == nil)
        #expect(try acquire(limiter).lease?.id == 3)
    }

    @Test func aLeaseExpiresAtExactlyItsTTL() throws {
        let (limiter, clock) = leases(1)
        let held = try acquire(limiter)
        clock.advance(by: ttl - 1)
        #expect(try !acquire(limiter).allowed)
        #expect(try acquire(limiter).retryAfter == 1)
        clock.advance(by: 1)
        #expect(try limiter.status(CheckRequest(rule: "jobs", key: "k", cost: 0)).remaining == 1)
        #expect(try acquire(limiter).lease?.id == 2)
        // The expired lease is no longer held: releasing it is the double-release error.
        #expect(throws: CheckError.leaseNotHeld(1)) { try release(limiter, held.lease?.id) }
    }

    @Test func doubleReleaseAndUnknownLeasesAreNamedErrors() throws {
        let (limiter, _) = leases()
        let held = try acquire(limiter)
        _ = try release(limiter, held.lease?.id)
        #expect(throws: CheckError.leaseNotHeld(1)) { try release(limiter, held.lease?.id) }
        #expect(throws: CheckError.unknownLease(7)) { try release(limiter, 7) }
        #expect(throws: CheckError.unknownLease(1)) { try release(limiter, 1, "other") }  // another key's id
        #expect(throws: CheckError.notConcurrency("api")) { try limiter.release(ReleaseRequest(rule: "api", key: "k", lease: 1)) }
        #expect(throws: CheckError.unknownRule("nope")) { try limiter.release(ReleaseRequest(rule: "nope", key: "k", lease: 1)) }
        #expect(CheckError.leaseNotHeld(1).description == "lease 1 is not held: it was already released or expired at its lease_ttl")
    }

    @Test func statusPeeksAndNeverGrants() throws {
        let (limiter, _) = leases(1)
        let asked = try limiter.status(CheckRequest(rule: "jobs", key: "k", cost: 1))
        #expect(asked.allowed && asked.remaining == 0 && asked.lease == nil)
        #expect(try limiter.status(CheckRequest(rule: "jobs", key: "k", cost: 0)).remaining == 1)
        #expect(throws: CheckError.costExceedsCapacity(cost: 2, capacity: 1)) { try limiter.check(CheckRequest(rule: "jobs", key: "k", cost: 2)) }
        #expect(throws: CheckError.reportOnConcurrency("jobs")) { try limiter.report([ReportRequest(rule: "jobs", key: "k", cost: 1)]) }
    }

    @Test func aBatchGrantsOneLeasePerItemOrNone() throws {
        let (limiter, _) = leases(2)
        let both = try limiter.check(batch: [CheckRequest(rule: "jobs", key: "k"), CheckRequest(rule: "jobs", key: "k"), CheckRequest(rule: "api", key: "k")])
        #expect(both.allowed && both.decisions.map(\.lease?.id) == [1, 2, nil])
        #expect(both.decisions.map(\.remaining) == [1, 0, 4])
        // Denied by the lease: nothing is consumed, the window's count included.
        let denied = try limiter.check(batch: [CheckRequest(rule: "api", key: "k"), CheckRequest(rule: "jobs", key: "k")])
        #expect(!denied.allowed && denied.decisions.map(\.lease) == [nil, nil])
        #expect(denied.decisions.map(\.remaining) == [4, 0] && denied.decisions.map(\.allowed) == [true, false])
        // Denied by the window: no lease is granted.
        _ = try release(limiter, 1)
        _ = try limiter.check(CheckRequest(rule: "api", key: "k", cost: 4))
        let noLease = try limiter.check(batch: [CheckRequest(rule: "jobs", key: "k"), CheckRequest(rule: "api", key: "k")])
        #expect(!noLease.allowed && noLease.decisions[0].lease == nil && noLease.decisions[0].remaining == 1)
        #expect(try limiter.status(CheckRequest(rule: "jobs", key: "k", cost: 0)).remaining == 1)
    }

    @Test func aDroppedKeysStaleIDsNeverFreeNewLeases() throws {
        let (limiter, clock) = leases(1)
        let old = try acquire(limiter)
        try limiter.reset(rule: "jobs", key: "k")
        let new = try acquire(limiter)
        #expect(new.lease?.id == 2)  // above every id the dropped set granted
        #expect(throws: CheckError.unknownLease(1)) { try release(limiter, old.lease?.id) }
        // Expired and swept: a late release says it is not held, and the key starts above it.
        clock.advance(by: ttl)
        #expect(limiter.sweep() == 1)
        #expect(throws: CheckError.leaseNotHeld(2)) { try release(limiter, new.lease?.id) }
        #expect(try acquire(limiter).lease?.id == 10_000_000)  // the clock in µs, above the dropped ids
    }

    @Test func idsStartAtTheClockInMicroseconds() throws {
        let (limiter, _) = makeLimiter(rule("jobs", .concurrency, 1, per: ttl), at: 1_700_000_000 * second)
        #expect(try acquire(limiter).lease?.id == 1_700_000_000_000_000)
    }

    @Test func leasesActiveCountsHeldLeasesPerRule() throws {
        let (limiter, clock) = leases(3)
        _ = try acquire(limiter, "a")
        _ = try acquire(limiter, "a")
        clock.advance(by: second)
        _ = try acquire(limiter, "b")
        #expect(limiter.leasesActive().map(\.count) == [3])
        #expect(limiter.activeClients().map(\.count) == [2, 0])
        clock.advance(by: ttl - second)
        #expect(limiter.leasesActive().map(\.count) == [1])
    }

    @Test func replayReleasesAfterHoldAndExpiresTheRestAtTheTTL() throws {
        let session = ReplaySession(rules: try RuleSet([rule("jobs", .concurrency, 1, per: ttl)]))
        func allowed(_ t: Int64, hold: Int64? = nil) throws -> Bool {
            try session.apply(ReplayEvent(time: t, rule: "jobs", key: "k", hold: hold)).allowed
        }
        #expect(try allowed(0, hold: 2 * second))
        #expect(try !allowed(second))
        #expect(try allowed(2 * second))  // released at exactly 2 s, first
        #expect(try !allowed(5 * second))
        #expect(try !allowed(12 * second - 1))
        #expect(try allowed(12 * second))  // never released: expired at its TTL
        #expect(session.summary() == [{ var s = ReplaySummary(rule: "jobs"); s.requests = 6; s.allowed = 3; s.denied = 3; s.topDenied = [("k", 3)]; return s }()])
    }
}
