import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Testing

/// One conformance suite, two stores: the same seeded traces decided by the in-memory store and
/// by the Lua scripts in a real redis-server (on the same virtual clock) give the same answers.
/// Redis reports times in µs, so the memory store's ns are compared rounded up to µs.
/// With a caller-set time the scripts write no TTL (PX runs on Redis's real clock, not the
/// virtual one); the TTLs themselves are checked by LuaTraceTests.
@Suite(.enabled(if: redisAvailable), .serialized) struct ConformanceTests {
    static func rules(_ rng: inout SeededGenerator) -> [Rule] {
        let periods: [Int64] = [1 * ms, 250 * ms, 1 * second, 60 * second, 3600 * second, 366 * 86_400 * second]
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        let limits: [Int64] = [1, 2, 3, 7, 10, 100, 1000, 1_000_000_000]
        return [
            rule("tb", .tokenBucket, pick(limits), per: pick(periods), burst: pick([1, 3, 10, 1000])),
            rule("sw", .slidingWindow, pick(limits), per: pick(periods)),
            rule("fw", .fixedWindow, pick(limits), per: pick(periods)),
            rule("lb", .leakyBucket, pick(limits), per: pick(periods), burst: pick([0, 1, 5])),
            rule("shadow", .tokenBucket, 2, per: 1 * second, shadow: true),
        ]
    }

    static func sameDecision(_ a: Decision, _ b: Decision) -> Bool {
        func us(_ ns: Int64) -> Int64 { (ns + 999) / 1000 * 1000 }
        return a.allowed == b.allowed && a.remaining == b.remaining && a.limit == b.limit && a.shadowDenied == b.shadowDenied
            && us(a.resetAfter) == b.resetAfter && us(a.retryAfter) == b.retryAfter && us(a.delay) == b.delay
    }

    static func sameReport(_ a: Report, _ b: Report) -> Bool {
        func us(_ ns: Int64) -> Int64 { (ns + 999) / 1000 * 1000 }
        return a.remaining == b.remaining && a.debt == b.debt && a.duplicate == b.duplicate && a.limit == b.limit
            && us(a.resetAfter) == b.resetAfter && us(a.retryAfter) == b.retryAfter
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func redisDecidesExactlyLikeMemory(seed: UInt64) async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        try await Self.trace(seed: seed) { rules, clock in try RedisLimiter(redis: redis, rules: rules, clock: clock, scriptClock: clock) }
    }

    /// Decides one seeded trace in memory and through `makeRemote`, comparing every number.
    static func trace(seed: UInt64, _ makeRemote: ([Rule], ManualClock) throws -> RedisLimiter) async throws {
        var rng = SeededGenerator(seed: seed)
        let rules = Self.rules(&rng)
        let clock = ManualClock(now: 1_764_000_000 * second + Int64(rng.next() % 1_000_000) * 1000)
        let memory = RateLimiter(rules: try RuleSet(rules), clock: clock)
        let remote = try makeRemote(rules, clock)
        let keys = ["a", "b", "c"]
        var covered = (debt: 0, duplicate: 0, refund: 0)  // the report steps reached each case
        var lastReport: ReportRequest?
        for step in 0..<600 {
            let gaps: [Int64] = [0, 1_000, 250_000 * 1000 / 1000, Int64(rng.next() % 2_000_000) * 1000]
            clock.advance(by: gaps[Int(rng.next() % 4)])
            func request() -> CheckRequest {
                let r = rules[Int(rng.next() % UInt64(rules.count))]
                let capacity = min(r.limits.capacity, 4)
                let cost = rng.next() % 5 == 0 ? 0 : Int64(rng.next() % UInt64(capacity)) + 1
                return CheckRequest(rule: r.name, key: keys[Int(rng.next() % 3)], cost: cost)
            }
            switch rng.next() % 13 {
            case 10...12:
                // A report or refund (up to twice the capacity: debt and its cap), sometimes with
                // an id that a later step repeats (both stores must count it once).
                let r = rules[Int(rng.next() % UInt64(rules.count))]
                let span = UInt64(min(2 * r.limits.capacity, 8))
                let cost = Int64(rng.next() % (2 * span + 1)) - Int64(span)
                let id = rng.next() % 2 == 0 ? "id-\(step)" : nil
                var request = ReportRequest(rule: r.name, key: keys[Int(rng.next() % 3)], cost: rng.next() % 7 == 0 ? Limits.maxLimit : cost, id: id)
                if let last = lastReport, rng.next() % 3 == 0 { request = last }  // a retry
                lastReport = request
                let expected = try memory.report([request])[0]
                let got = try await remote.report([request])[0]
                #expect(Self.sameReport(expected, got), "seed \(seed) step \(step) report \(request): memory \(expected) redis \(got)")
                if got.debt > 0 { covered.debt += 1 }
                if got.duplicate { covered.duplicate += 1 }
                if request.cost < 0 { covered.refund += 1 }
            case 0...5:
                let r = request()
                let expected = try memory.check(r)
                let got = try await remote.check(r.rule, r.key, cost: r.cost)
                #expect(Self.sameDecision(expected, got), "seed \(seed) step \(step) \(r): memory \(expected) redis \(got)")
            case 6, 7:
                let r = request()
                let expected = try memory.status(r)
                let got = try await remote.check(r.rule, r.key, cost: r.cost, commit: false)
                #expect(Self.sameDecision(expected, got), "seed \(seed) step \(step) status \(r): memory \(expected) redis \(got)")
            default:
                let batch = (0..<(2 + Int(rng.next() % 2))).map { _ in request() }
                let expected = try memory.check(batch: batch)
                let got = try await remote.check(batch: batch)
                #expect(expected.allowed == got.allowed, "seed \(seed) step \(step) batch \(batch)")
                for (e, g) in zip(expected.decisions, got.decisions) {
                    #expect(Self.sameDecision(e, g), "seed \(seed) step \(step) batch \(batch): memory \(e) redis \(g)")
                }
            }
        }
        #expect(covered.debt > 0 && covered.duplicate > 0 && covered.refund > 0, "seed \(seed): \(covered)")
        await remote.shutdown()
    }
}
