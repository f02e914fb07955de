import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Testing

/// Concurrency leases, two stores (issue 15): the same seeded traces of acquires, peeks,
/// statuses and releases (held, double, unknown) decided by the memory store and by the lease
/// scripts in a real redis-server, on the same virtual clock, give the same answers, lease ids
/// and errors included. Leases expire on that clock at exactly their TTL in both.
@Suite(.enabled(if: redisAvailable), .serialized) struct LeaseConformanceTests {
    @Test(arguments: [1, 2, 3] as [UInt64])
    func redisLeasesExactlyLikeMemory(seed: UInt64) async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        var rng = SeededGenerator(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        let rules = [
            rule("jobs", .concurrency, pick([1, 2, 3, 5] as [Int64]), per: pick([1 * ms, 250 * ms, 1 * second, 60 * second])),
            rule("one", .concurrency, 1, per: 1 * second),
        ]
        let clock = ManualClock(now: 1_764_000_000 * second + Int64(rng.next() % 1_000_000) * 1000)
        let memory = RateLimiter(rules: try RuleSet(rules), clock: clock)
        let remote = try RedisLimiter(redis: redis, rules: rules, clock: clock, scriptClock: clock)
        let keys = ["a", "b"]
        var granted: [(rule: String, key: String, id: UInt64)] = []
        var covered = (granted: 0, denied: 0, released: 0, notHeld: 0, unknown: 0)
        for step in 0..<500 {
            clock.advance(by: pick([0, 1_000, 100_000 * 1000, Int64(rng.next() % 1_500_000) * 1000]))
            let r = pick(rules).name
            let key = pick(keys)
            switch rng.next() % 10 {
            case 0...4:
                let cost: Int64 = rng.next() % 6 == 0 ? 0 : 1
                let expected = try memory.check(CheckRequest(rule: r, key: key, cost: cost))
                let got = try await remote.check(r, key, cost: cost)
                #expect(ConformanceTests.sameDecision(expected, got) && expected.lease == got.lease,
                        "seed \(seed) step \(step) acquire \(r)/\(key): memory \(expected) redis \(got)")
                if let id = got.lease?.id { granted.append((r, key, id)); covered.granted += 1 }
                if !got.allowed { covered.denied += 1 }
            case 5:
                let cost = Int64(rng.next() % 2)
                let expected = try memory.status(CheckRequest(rule: r, key: key, cost: cost))
                let got = try await remote.check(r, key, cost: cost, commit: false)
                #expect(ConformanceTests.sameDecision(expected, got) && got.lease == nil, "seed \(seed) step \(step) status: memory \(expected) redis \(got)")
            default:
                // A granted lease (held, expired or released already), or an id never granted.
                let request = granted.isEmpty || rng.next() % 5 == 0
                    ? ReleaseRequest(rule: r, key: key, lease: rng.next() % 2 == 0 ? 0 : UInt64(Int64.max))
                    : { let g = pick(granted); return ReleaseRequest(rule: g.rule, key: g.key, lease: g.id) }()
                let expected = Result { () throws(CheckError) -> Decision in try memory.release(request) }
                let got: Result<Decision, CheckError>
                do { got = .success(try await remote.release(request)) } catch let error as CheckError { got = .failure(error) }
                switch (expected, got) {
                case (.success(let e), .success(let g)):
                    #expect(ConformanceTests.sameDecision(e, g), "seed \(seed) step \(step) release \(request): memory \(e) redis \(g)")
                    covered.released += 1
                case (.failure(let e), .failure(let g)):
                    #expect(e == g, "seed \(seed) step \(step) release \(request)")
                    if case .leaseNotHeld = g { covered.notHeld += 1 } else { covered.unknown += 1 }
                default:
                    Issue.record("seed \(seed) step \(step) release \(request): memory \(expected) redis \(got)")
                }
            }
        }
        #expect(covered.granted > 0 && covered.denied > 0 && covered.released > 0 && covered.notHeld > 0 && covered.unknown > 0,
                "seed \(seed): \(covered)")
        await remote.shutdown()
    }

    /// On the Redis clock (TIME), both keys expire with the last lease: PX is that lease's TTL in
    /// ms plus 1, and the slot is free once it expired (a real process: polled with a deadline).
    @Test func onTheRedisClockTheKeysExpireWithTheLastLease() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        // The store's own clock (breaker, caches) is not the scripts' time: no scriptClock, so TIME.
        let remote = try RedisLimiter(redis: redis, rules: [rule("jobs", .concurrency, 1, per: 300 * ms)], clock: ManualClock())
        let granted = try await remote.check("jobs", "k")
        #expect(granted.lease?.expiresAfter == 300 * ms)
        #expect(try await !remote.check("jobs", "k").allowed)
        let key = "sluice:{k}:jobs:5:1:300:1"
        for suffix in [":leases", ":ids"] {
            let ttl = try redis.command(["PTTL", key + suffix])
            #expect(ttl.hasPrefix(":"), "\(suffix): \(ttl)")
            #expect((Int(ttl.dropFirst()) ?? 0) > 0 && (Int(ttl.dropFirst()) ?? .max) <= 301, "\(suffix): \(ttl)")
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, try redis.command(["EXISTS", key + ":leases"]) != ":0" {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try redis.command(["EXISTS", key + ":leases", key + ":ids"]) == ":0")
        let again = try await remote.check("jobs", "k")
        #expect(again.allowed && again.lease != nil && again.lease != granted.lease)
        await remote.shutdown()
    }

    /// With Redis, a lease is acquired in a check of its own: a batch naming a concurrency rule is
    /// the caller's error, naming the rule (the memory store decides such batches atomically).
    @Test func aRedisBatchWithAConcurrencyRuleIsRefused() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let remote = try RedisLimiter(
            redis: redis, rules: [rule("jobs", .concurrency, 1, per: second), rule("api", .fixedWindow, 5, per: second)], clock: ManualClock())
        await #expect(throws: CheckError.leaseInSharedBatch("jobs")) {
            try await remote.check(batch: [CheckRequest(rule: "api", key: "k"), CheckRequest(rule: "jobs", key: "k")])
        }
        #expect(try await remote.check(batch: [CheckRequest(rule: "api", key: "k"), CheckRequest(rule: "api", key: "j")]).allowed)
        await remote.shutdown()
    }

    /// Single checks of one tick are coalesced into the `multi` script, which decides the four
    /// algorithms only: a concurrency check among them still goes to the acquire script, and
    /// every answer is the memory store's, in order, lease ids included.
    @Test func leasesAmongCoalescedChecksAreAcquiredOneByOne() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let rules = [rule("jobs", .concurrency, 3, per: second), rule("fw", .fixedWindow, 4, per: second)]
        let clock = ManualClock(now: 1_764_000_000 * second)
        let memory = RateLimiter(rules: try RuleSet(rules), clock: clock)
        let remote = try RedisLimiter(redis: redis, rules: rules, clock: clock, scriptClock: clock)
        let together = (0..<10).map { i in (CheckRequest(rule: i % 2 == 0 ? "jobs" : "fw", key: "k"), commit: true) }
        let expected = try together.map { request, _ in try memory.check(request) }
        let got = try await remote.decideTogether(together)
        #expect(got.map(\.lease) == expected.map(\.lease) && expected.compactMap(\.lease).count == 3)
        for (e, g) in zip(expected, got) { #expect(ConformanceTests.sameDecision(e, g), "memory \(e) redis \(g)") }
        await remote.shutdown()
    }
}
