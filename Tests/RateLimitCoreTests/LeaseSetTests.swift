import RateLimitCore
import Testing

/// Concurrency leases, the value type (issue 15): acquire to the limit, deny, release, expiry at
/// exactly the TTL, double release and an unknown lease, on exact instants.
@Suite struct LeaseSetTests {
    @Test func acquireToTheLimitThenDenyUntilTheFirstExpires() {
        var leases = LeaseSet()
        #expect(leases.acquire(now: 0, limit: 2, ttl: 10 * second) == .granted(.init(id: 1, expires: 10 * second), remaining: 1))
        #expect(leases.acquire(now: 3 * second, limit: 2, ttl: 10 * second) == .granted(.init(id: 2, expires: 13 * second), remaining: 0))
        #expect(leases.acquire(now: 4 * second, limit: 2, ttl: 10 * second) == .denied(retryAfter: 6 * second))
        #expect(leases.acquire(now: 10 * second - 1, limit: 2, ttl: 10 * second) == .denied(retryAfter: 1))
        // Lease 1 expires at exactly its TTL: the slot is free at 10 s.
        #expect(leases.acquire(now: 10 * second, limit: 2, ttl: 10 * second) == .granted(.init(id: 3, expires: 20 * second), remaining: 0))
    }

    @Test func releaseFreesASlotOnceAndNamesTheMistakes() throws {
        var leases = LeaseSet(firstID: 100)
        guard case .granted(let lease, _) = leases.acquire(now: 0, limit: 1, ttl: second) else {
            Issue.record("the first lease is granted")
            return
        }
        #expect(lease.id == 100)
        try leases.release(100, now: 1)
        #expect(leases.held.isEmpty && leases.isIdle(now: 1))
        #expect(throws: LeaseSet.ReleaseError.notHeld(100)) { try leases.release(100, now: 2) }  // double release
        #expect(throws: LeaseSet.ReleaseError.unknown(101)) { try leases.release(101, now: 2) }  // never granted
        #expect(throws: LeaseSet.ReleaseError.unknown(99)) { try leases.release(99, now: 2) }
        guard case .granted = leases.acquire(now: 2, limit: 1, ttl: second) else {
            Issue.record("the released slot is free")
            return
        }
        // An expired lease cannot be released: its slot was already freed at the TTL.
        #expect(throws: LeaseSet.ReleaseError.notHeld(101)) { try leases.release(101, now: 2 + second) }
        #expect(LeaseSet.ReleaseError.notHeld(7).description == "lease 7 is not held: it was already released or expired at its lease_ttl")
    }
}
