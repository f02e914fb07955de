import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Testing

/// Single checks that arrive in one event-loop tick go to Redis as one `multi` script call, and
/// each is still decided exactly as the memory store decides it alone, in arrival order.
@Suite(.enabled(if: redisAvailable), .serialized) struct CoalescingTests {
    @Test(arguments: [11, 12] as [UInt64])
    func coalescedChecksDecideExactlyLikeMemoryInOrder(seed: UInt64) async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        var rng = SeededGenerator(seed: seed)
        let rules = ConformanceTests.rules(&rng)
        let clock = ManualClock(now: 1_764_000_000 * second + Int64(rng.next() % 1_000_000) * 1000)
        let memory = RateLimiter(rules: try RuleSet(rules), clock: clock)
        let remote = try RedisLimiter(redis: redis, rules: rules, clock: clock, scriptClock: clock)
        let keys = ["a", "b", "c"]
        var checks = 0
        for step in 0..<150 {
            clock.advance(by: [0, 1_000, 250_000_000, Int64(rng.next() % 2_000_000) * 1000][Int(rng.next() % 4)])
            // 1 to 12 checks together; a repeated key must see the earlier checks' consumption.
            let together = (0...Int(rng.next() % 12)).map { _ -> (CheckRequest, commit: Bool) in
                let r = rules[Int(rng.next() % UInt64(rules.count))]
                let cost = rng.next() % 5 == 0 ? 0 : Int64(rng.next() % UInt64(min(r.limits.capacity, 4))) + 1
                return (CheckRequest(rule: r.name, key: keys[Int(rng.next() % 3)], cost: cost), commit: rng.next() % 4 != 0)
            }
            let expected = try together.map { request, commit in commit ? try memory.check(request) : try memory.status(request) }
            let got = try await remote.decideTogether(together)
            #expect(got.count == together.count)
            for (i, (e, g)) in zip(expected, got).enumerated() {
                #expect(ConformanceTests.sameDecision(e, g), "seed \(seed) step \(step) item \(i) \(together[i]): memory \(e) redis \(g)")
            }
            checks += together.count
        }
        // Coalesced: far fewer script calls than checks.
        let calls = remote.observer.snapshot.operations.filter { $0.key.hasPrefix("evalsha/") || $0.key.hasPrefix("eval/") }.values.reduce(0, +)
        #expect(calls < checks / 2, "\(calls) script calls for \(checks) checks")
        await remote.shutdown()
    }
}
