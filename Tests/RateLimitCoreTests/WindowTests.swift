import RateLimitCore
import RateLimitTestSupport
import Testing

@Suite struct WindowTests {
    @Test func slidingWindowDeniesTheEdgeBurstThatFixedWindowAllows() throws {
        let (limiter, clock) = makeLimiter(
            rule("sliding", .slidingWindow, 10, per: second), rule("fixed", .fixedWindow, 10, per: second))
        clock.set(990 * ms)
        #expect(try limiter.drain("sliding", "k") == 10)
        #expect(try limiter.drain("fixed", "k") == 10)
        clock.set(1_010 * ms)  // 20 ms later, just across the window edge
        // Sliding: previous window weighs 99% → nothing more.
        #expect(try limiter.drain("sliding", "k") == 0)
        // Fixed window's documented trade-off: a fresh window admits a full second burst.
        #expect(try limiter.drain("fixed", "k") == 10)
    }

    @Test func slidingWindowRefillsAsThePreviousWindowFades() throws {
        let (limiter, clock) = makeLimiter(rule("s", .slidingWindow, 10, per: second))
        #expect(try limiter.drain("s", "k") == 10)
        clock.set(1_500 * ms)  // previous (10) weighs 50% → 5 available
        #expect(try limiter.drain("s", "k") == 5)
        let denied = try limiter.check(CheckRequest(rule: "s", key: "k"))
        // 10·(1000−e) + 6·1000 ≤ 10·1000 ⇔ e ≥ 600 ms: 100 ms from now.
        #expect(denied.retryAfter == 100 * ms)
        clock.set(1_600 * ms - 1)
        #expect(try !limiter.allows("s", "k"))
        clock.set(1_600 * ms)
        #expect(try limiter.allows("s", "k"))
    }

    @Test func slidingWindowNeverGrantsTwiceTheLimitInAnyPeriod() throws {
        var rng = SeededGenerator(seed: 7)
        let (limiter, clock) = makeLimiter(rule("s", .slidingWindow, 20, per: second))
        var allowedAt: [Int64] = []
        for _ in 0..<5_000 {
            clock.advance(by: Int64.random(in: 0...(40 * ms), using: &rng))
            if try limiter.allows("s", "k") { allowedAt.append(clock.now) }
        }
        var lo = 0
        var worst = 0
        for hi in allowedAt.indices {
            while allowedAt[hi] - allowedAt[lo] >= second { lo += 1 }
            worst = max(worst, hi - lo + 1)
        }
        #expect(worst < 40)
        #expect(allowedAt.count > 1_000)
    }

    @Test func fixedWindowsAlignToTheEpoch() throws {
        let (limiter, clock) = makeLimiter(rule("f", .fixedWindow, 3, per: 10 * second), at: 25 * second)
        let d = try limiter.check(CheckRequest(rule: "f", key: "k"))
        #expect(d.resetAfter == 5 * second)  // window [20 s, 30 s)
        #expect(try limiter.drain("f", "k") == 2)
        let denied = try limiter.check(CheckRequest(rule: "f", key: "k"))
        #expect(denied.retryAfter == 5 * second)
        clock.set(30 * second)
        #expect(try limiter.drain("f", "k") == 3)
    }

    @Test func windowCostsAndCapacity() throws {
        let (limiter, _) = makeLimiter(rule("f", .fixedWindow, 5, per: second), rule("s", .slidingWindow, 5, per: second))
        for name in ["f", "s"] {
            #expect(try limiter.check(CheckRequest(rule: name, key: "k", cost: 3)).remaining == 2)
            #expect(try limiter.check(CheckRequest(rule: name, key: "k", cost: 0)).remaining == 2)
            #expect(try !limiter.allows(name, "k", cost: 3))
            #expect(try limiter.allows(name, "k", cost: 2))
            #expect(throws: CheckError.costExceedsCapacity(cost: 6, capacity: 5)) {
                try limiter.check(CheckRequest(rule: name, key: "k", cost: 6))
            }
        }
    }
}
