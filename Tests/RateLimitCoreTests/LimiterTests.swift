import RateLimitCore
import Testing

@Suite struct LimiterTests {
    @Test func overridesAndUnlimited() throws {
        let vip = limits(.tokenBucket, 100, per: second)
        let (limiter, _) = makeLimiter(
            rule("api", .tokenBucket, 2, per: second, overrides: ["vip": .limited(vip), "probe": .unlimited]))
        #expect(try limiter.drain("api", "someone") == 2)
        #expect(try limiter.drain("api", "vip", max: 1000) == 100)
        #expect(try limiter.drain("api", "probe", max: 1000) == 1000)
        #expect(try limiter.check(CheckRequest(rule: "api", key: "vip", cost: 50)).limit == 100)
        #expect(throws: CheckError.costExceedsCapacity(cost: 101, capacity: 100)) {
            try limiter.check(CheckRequest(rule: "api", key: "vip", cost: 101))
        }
    }

    @Test func shadowAlwaysAllowsButReportsWouldBeDenials() throws {
        final class Counts: DecisionRecorder, @unchecked Sendable {  // test-only; used from one thread
            var allowed = 0, hits = 0, shadow = 0
            func record(_ event: DecisionEvent) {
                if event.allowed { allowed += 1 }
                if event.limitHit { hits += 1 }
                if event.shadowDenied { shadow += 1 }
            }
        }
        let counts = Counts()
        let limiter = RateLimiter(
            rules: try RuleSet([rule("dry", .fixedWindow, 3, per: second, shadow: true)]),
            clock: ManualClock(), makeRecorder: { _ in counts })
        let decisions = try (0..<5).map { _ in try limiter.check(CheckRequest(rule: "dry", key: "k")) }
        #expect(decisions.allSatisfy { $0.allowed })
        #expect(decisions.map(\.shadowDenied) == [false, false, false, true, true])
        #expect(decisions.map(\.remaining) == [2, 1, 0, 0, 0])
        #expect(counts.allowed == 5 && counts.hits == 0 && counts.shadow == 2)
    }

    @Test func deniedBatchConsumesNothing() throws {
        let (limiter, _) = makeLimiter(
            rule("a", .tokenBucket, 5, per: second), rule("b", .fixedWindow, 2, per: second))
        let batch = [CheckRequest(rule: "a", key: "u", cost: 2), CheckRequest(rule: "b", key: "u", cost: 2)]
        let first = try limiter.check(batch: batch)
        #expect(first.allowed)
        #expect(first.decisions.map(\.remaining) == [3, 0])
        let second = try limiter.check(batch: batch)
        #expect(!second.allowed)
        #expect(second.decisions.map(\.allowed) == [true, false])
        // "a" was not charged by the denied batch.
        #expect(try limiter.check(CheckRequest(rule: "a", key: "u", cost: 0)).remaining == 3)
    }

    @Test func batchSeesItsOwnEarlierItems() throws {
        let (limiter, _) = makeLimiter(rule("a", .tokenBucket, 5, per: second))
        let twice = [CheckRequest(rule: "a", key: "u", cost: 3), CheckRequest(rule: "a", key: "u", cost: 3)]
        #expect(try !limiter.check(batch: twice).allowed)
        #expect(try limiter.check(CheckRequest(rule: "a", key: "u", cost: 0)).remaining == 5)
        let fits = [CheckRequest(rule: "a", key: "u", cost: 3), CheckRequest(rule: "a", key: "u", cost: 2)]
        let ok = try limiter.check(batch: fits)
        #expect(ok.allowed && ok.decisions.map(\.remaining) == [2, 0])
        #expect(throws: CheckError.emptyBatch) { try limiter.check(batch: []) }
    }

    @Test func statusConsumesNothing() throws {
        let (limiter, _) = makeLimiter(rule("a", .tokenBucket, 2, per: second))
        for _ in 0..<5 { #expect(try limiter.status(CheckRequest(rule: "a", key: "u")).remaining == 1) }
        #expect(try limiter.drain("a", "u") == 2)
        #expect(try !limiter.status(CheckRequest(rule: "a", key: "u")).allowed)
    }

    @Test func resetForgetsAKey() throws {
        let (limiter, _) = makeLimiter(rule("a", .tokenBucket, 2, per: second))
        #expect(try limiter.drain("a", "u") == 2)
        try limiter.reset(rule: "a", key: "u")
        #expect(try limiter.drain("a", "u") == 2)
    }

    @Test func idleKeysAreEvictedAndActiveOnesKept() throws {
        let (limiter, clock) = makeLimiter(
            rule("t", .tokenBucket, 10, per: second), rule("s", .slidingWindow, 10, per: second),
            rule("f", .fixedWindow, 10, per: second), rule("l", .leakyBucket, 10, per: second, burst: 5))
        for name in ["t", "s", "f", "l"] {
            for i in 0..<100 { _ = try limiter.allows(name, "key-\(i)") }
        }
        #expect(limiter.activeClients().map(\.count) == [100, 100, 100, 100])
        clock.set(150 * ms)  // token/leaky buckets (100 ms per token) are full again
        #expect(limiter.sweep() == 200)
        #expect(limiter.activeClients().map(\.count) == [0, 100, 100, 0])
        clock.set(second)  // fixed window over; sliding still has a previous window
        #expect(limiter.sweep() == 100)
        clock.set(2 * second)
        #expect(limiter.sweep() == 100)
        #expect(limiter.activeClients().map(\.count) == [0, 0, 0, 0])
    }

    @Test func reloadKeepsStateOfUnchangedRulesOnly() throws {
        let (limiter, _) = makeLimiter(rule("a", .tokenBucket, 2, per: second), rule("b", .tokenBucket, 2, per: second))
        #expect(try limiter.drain("a", "u") == 2)
        #expect(try limiter.drain("b", "u") == 2)
        limiter.replaceRules(try RuleSet([rule("a", .tokenBucket, 2, per: second), rule("b", .tokenBucket, 3, per: second)]))
        #expect(try limiter.drain("a", "u") == 0)
        #expect(try limiter.drain("b", "u") == 3)
    }
}
