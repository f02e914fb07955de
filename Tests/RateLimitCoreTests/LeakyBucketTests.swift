import RateLimitCore
import Testing

@Suite struct LeakyBucketTests {
    @Test func queuedRequestsAreDelayedOneIntervalApart() throws {
        let (limiter, clock) = makeLimiter(rule("shape", .leakyBucket, 10, per: second, burst: 2))
        let delays = try (0..<3).map { _ in try limiter.check(CheckRequest(rule: "shape", key: "k")) }
        #expect(delays.map(\.allowed) == [true, true, true])
        #expect(delays.map(\.delay) == [0, 100 * ms, 200 * ms])
        #expect(delays.map(\.remaining) == [2, 1, 0])
        let full = try limiter.check(CheckRequest(rule: "shape", key: "k"))
        #expect(!full.allowed)
        #expect(full.retryAfter == 100 * ms)
        clock.advance(by: 100 * ms)
        let next = try limiter.check(CheckRequest(rule: "shape", key: "k"))
        #expect(next.allowed && next.delay == 200 * ms)
    }

    @Test func withoutBurstOnlyTheRateIsAllowed() throws {
        let (limiter, clock) = makeLimiter(rule("shape", .leakyBucket, 10, per: second))
        #expect(try limiter.allows("shape", "k"))
        clock.advance(by: 50 * ms)
        #expect(try !limiter.allows("shape", "k"))
        clock.advance(by: 50 * ms)
        #expect(try limiter.allows("shape", "k"))
        #expect(throws: CheckError.costExceedsCapacity(cost: 2, capacity: 1)) {
            try limiter.check(CheckRequest(rule: "shape", key: "k", cost: 2))
        }
    }
}
