import RateLimitCore
import Testing

@Suite struct TokenBucketTests {
    @Test func burstThenSteadyRate() throws {
        let (limiter, clock) = makeLimiter(rule("api", .tokenBucket, 10, per: second, burst: 5))
        #expect(try limiter.drain("api", "k") == 5)
        let denied = try limiter.check(CheckRequest(rule: "api", key: "k"))
        #expect(!denied.allowed)
        #expect(denied.retryAfter == 100 * ms)
        #expect(denied.remaining == 0)
        // Steady state: one token every 100 ms, never more.
        for _ in 0..<20 {
            clock.advance(by: 100 * ms)
            #expect(try limiter.allows("api", "k"))
            #expect(try !limiter.allows("api", "k"))
        }
    }

    @Test func requestAtTheExactRefillInstantIsAllowed() throws {
        // 3 per second: the interval is 333,333,333⅓ ns — not an integer, and not rounded.
        let (limiter, clock) = makeLimiter(rule("api", .tokenBucket, 3, per: second, burst: 1))
        #expect(try limiter.allows("api", "k"))
        clock.set(333_333_333)
        let early = try limiter.check(CheckRequest(rule: "api", key: "k"))
        #expect(!early.allowed)
        #expect(early.retryAfter == 1)  // ⅓ ns short, rounded up
        clock.set(333_333_334)
        #expect(try limiter.allows("api", "k"))  // next token at 666,666,667⅓
        clock.set(666_666_667)
        #expect(try !limiter.allows("api", "k"))
        clock.set(666_666_668)
        #expect(try limiter.allows("api", "k"))
    }

    @Test func fullBucketExactlyOnePeriodAfterDraining() throws {
        let (limiter, clock) = makeLimiter(rule("api", .tokenBucket, 3, per: second))
        #expect(try limiter.allows("api", "k", cost: 3))
        clock.set(second - 1)  // 2.999999999 tokens
        let almost = try limiter.check(CheckRequest(rule: "api", key: "k", cost: 3))
        #expect(!almost.allowed && almost.remaining == 2 && almost.retryAfter == 1)
        clock.set(second)
        #expect(try limiter.allows("api", "k", cost: 3))
    }

    @Test func decisionsAreTheSameEveryRun() throws {
        func run() throws -> [Decision] {
            let (limiter, clock) = makeLimiter(rule("api", .tokenBucket, 7, per: 3 * second, burst: 4))
            var out: [Decision] = []
            for i in 0..<200 {
                clock.advance(by: Int64(i % 7) * 97 * ms)
                out.append(try limiter.check(CheckRequest(rule: "api", key: "k", cost: Int64(i % 3))))
            }
            return out
        }
        #expect(try run() == run())
    }

    @Test func costsConsumeAndPeekDoesNot() throws {
        let (limiter, _) = makeLimiter(rule("api", .tokenBucket, 10, per: second))
        let first = try limiter.check(CheckRequest(rule: "api", key: "k", cost: 4))
        #expect(first.allowed && first.remaining == 6)
        let peek = try limiter.check(CheckRequest(rule: "api", key: "k", cost: 0))
        #expect(peek.allowed && peek.remaining == 6)
        let big = try limiter.check(CheckRequest(rule: "api", key: "k", cost: 7))
        #expect(!big.allowed && big.remaining == 6)
        #expect(big.retryAfter == 100 * ms)
        #expect(try limiter.allows("api", "k", cost: 6))
    }

    @Test func costBeyondCapacityIsAnErrorNotADenial() throws {
        let (limiter, _) = makeLimiter(rule("api", .tokenBucket, 10, per: second, burst: 3))
        #expect(throws: CheckError.costExceedsCapacity(cost: 4, capacity: 3)) {
            try limiter.check(CheckRequest(rule: "api", key: "k", cost: 4))
        }
        #expect(throws: CheckError.negativeCost(-1)) {
            try limiter.check(CheckRequest(rule: "api", key: "k", cost: -1))
        }
        #expect(throws: CheckError.unknownRule("nope")) {
            try limiter.check(CheckRequest(rule: "nope", key: "k"))
        }
        #expect(throws: CheckError.emptyKey) { try limiter.check(CheckRequest(rule: "api", key: "")) }
        let long = String(repeating: "x", count: RateLimiter.maxKeyBytes + 1)
        #expect(throws: CheckError.keyTooLong(RateLimiter.maxKeyBytes + 1)) {
            try limiter.check(CheckRequest(rule: "api", key: long))
        }
    }

    @Test func resetAfterIsTimeToFullBucket() throws {
        let (limiter, clock) = makeLimiter(rule("api", .tokenBucket, 10, per: second))
        let d = try limiter.check(CheckRequest(rule: "api", key: "k", cost: 3))
        #expect(d.resetAfter == 300 * ms)
        clock.advance(by: 300 * ms)
        #expect(limiter.sweep() == 1)
    }
}
