import NIOCore
import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Testing

/// The Redis store against a real redis-server: shared state, clocks, failures and recovery.
@Suite(.enabled(if: redisAvailable), .serialized) struct RedisStoreTests {
    static let hour = 3600 * second

    @Test func twoInstancesShareOneBurstExactlyOnce() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let rules = [rule("api", .tokenBucket, 10, per: Self.hour)]
        let a = try RedisLimiter(redis: redis, rules: rules, clock: ManualClock(now: 0))
        let b = try RedisLimiter(redis: redis, rules: rules, clock: ManualClock(now: 0))
        var allowed = 0
        for i in 0..<30 {
            let instance = i % 2 == 0 ? a : b
            if try await instance.check("api", "user-1").allowed { allowed += 1 }
        }
        #expect(allowed == 10, "the burst of 10 is shared, not granted once per instance")
        await a.shutdown()
        await b.shutdown()
    }

    @Test func instancesWithSkewedClocksAgree() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let rules = [rule("login", .slidingWindow, 5, per: Self.hour)]
        // Local clocks three hours apart: the scripts take time from Redis, so both see one window.
        let a = try RedisLimiter(redis: redis, rules: rules, clock: ManualClock(now: 1_764_000_000 * second), cacheDenials: true)
        let b = try RedisLimiter(redis: redis, rules: rules, clock: ManualClock(now: 1_764_010_800 * second), cacheDenials: true)
        var verdicts: [Bool] = []
        for i in 0..<8 { verdicts.append(try await (i % 2 == 0 ? a : b).check("login", "alice").allowed) }
        #expect(verdicts == [true, true, true, true, true, false, false, false])
        let status = try await b.check("login", "alice", cost: 0, commit: false)
        #expect(status.remaining == 0)
        await a.shutdown()
        await b.shutdown()
    }

    @Test func overLimitCacheDeniesWithoutARoundTrip() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let clock = ManualClock(now: 1_764_000_000 * second)
        let r = try RedisLimiter(redis: redis, rules: [rule("api", .tokenBucket, 1, per: Self.hour)], clock: clock, cacheDenials: true)
        #expect(try await r.check("api", "k").allowed)
        let denied = try await r.check("api", "k")
        #expect(!denied.allowed && denied.retryAfter > 0)
        let callsBefore = r.observer.snapshot.operations.values.reduce(0, +)
        let cached = try await r.check("api", "k")
        #expect(!cached.allowed && cached.retryAfter <= denied.retryAfter)
        #expect(r.observer.snapshot.cachedDenials == 1)
        #expect(r.observer.snapshot.operations.values.reduce(0, +) == callsBefore, "no Redis call for a cached denial")
        clock.advance(by: denied.retryAfter)
        _ = try await r.check("api", "k")
        #expect(r.observer.snapshot.cachedDenials == 1, "past retry-after, Redis is asked again")
        await r.shutdown()
    }

    /// Kill Redis mid-run: every policy answers within the timeout; nothing hangs.
    @Test(arguments: FailurePolicy.allCases)
    func killedRedisAppliesThePolicy(policy: FailurePolicy) async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .tokenBucket, 2, per: Self.hour)], clock: ManualClock(now: 0), policy: policy,
            timeout: .milliseconds(100))
        // Connected first (within the connect timeout, not the 100 ms one): on a busy machine
        // the first connection, which loads every script, can take longer than a check may.
        #expect(await r.store.firstContact() == nil)
        #expect(try await r.check("api", "k").allowed)
        redis.kill()
        for _ in 0..<4 {
            let started = ContinuousClock.now
            switch policy {
            case .allow:
                #expect(try await r.check("api", "k").allowed)
            case .deny:
                await #expect(throws: BackendUnavailable.self) { try await r.check("api", "k") }
            case .local:
                _ = try await r.check("api", "k")
            }
            #expect(ContinuousClock.now - started < .seconds(2), "a dead Redis must not hold a request")
        }
        #expect(r.observer.snapshot.fallbacks[policy] == 4)
        if policy == .local {
            // The local limiter has its own state: a fresh bucket of 2, then denials.
            #expect(r.limiter.store.count(slot: 0) == 1)
        }
        #expect(!r.store.isUp)
        #expect(r.store.isUsable == (policy != .deny))
        await r.shutdown()
    }

    /// Reports with Redis gone: `deny` refuses, `allow` records nothing and answers a fresh key,
    /// `local` records in this replica's memory.
    @Test(arguments: FailurePolicy.allCases)
    func killedRedisAppliesThePolicyToReports(policy: FailurePolicy) async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .fixedWindow, 10, per: Self.hour)], clock: ManualClock(now: 0), policy: policy,
            timeout: .milliseconds(100))
        let report = [ReportRequest(rule: "api", key: "k", cost: 12, id: "a")]
        #expect(await r.store.firstContact() == nil)  // connected first, as above
        #expect(try await r.report(report)[0].debt == 2)
        redis.kill()
        switch policy {
        case .deny:
            await #expect(throws: BackendUnavailable.self) { try await r.report(report) }
        case .allow:
            let answer = try await r.report(report)[0]
            #expect(answer.store == .failurePolicy && answer.remaining == 10 && answer.debt == 0)
        case .local:
            let answer = try await r.report(report)[0]
            #expect(answer.store == .localFallback && answer.debt == 2 && !answer.duplicate)
            #expect(r.limiter.store.count(slot: 0) == 1)
        }
        await r.shutdown()
    }

    /// Restart Redis (it forgets data and scripts): Sluice recovers by itself.
    @Test func restartedRedisIsUsedAgainWithScriptsReloaded() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .fixedWindow, 100, per: Self.hour)], clock: ManualClock(now: 0), policy: .deny,
            timeout: .milliseconds(200))
        #expect(try await r.check("api", "k").allowed)
        redis.kill()
        try redis.start()
        let recovered = await pollAsync(timeout: .seconds(10)) {
            (try? await r.check("api", "k").allowed) == true
        }
        #expect(recovered)
        #expect(try redis.command(["EXISTS", "sluice:{k}:api:3:100:3600000:100"]) == ":1", "the decision was made in Redis")
        #expect(r.store.isUp)
        await r.shutdown()
    }

    /// An error reply (here WRONGTYPE: the key holds a hash) is answered by `on_failure`, but
    /// it is not a connection failure: the breaker stays closed and other keys still go to Redis.
    @Test func errorRepliesLeaveTheBreakerClosed() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .tokenBucket, 100, per: Self.hour)], clock: ManualClock(now: 0), policy: .local)
        #expect(try redis.command(["HSET", Self.tokenKey("broken"), "f", "v"]) == ":1")
        for _ in 0..<10 { #expect(try await r.check("api", "broken").allowed) }
        let broken = r.observer.snapshot
        #expect(broken.fallbacks[.local] == 10)
        // The first call is an EVAL (the SHAs are learnt on connecting), the others EVALSHA.
        #expect(broken.operations["eval/error", default: 0] + broken.operations["evalsha/error", default: 0] == 10,
                "every call still went to Redis: the breaker never opened")
        #expect(try await r.check("api", "fine").remaining == 99)
        #expect(r.observer.snapshot.operations["evalsha/ok"] == 1)
        #expect(r.store.isUp)
        await r.shutdown()
    }

    /// The Redis key of `KEY` under `rule("api", .tokenBucket, 100, per: hour)`.
    static func tokenKey(_ key: String) -> String { "sluice:{\(key)}:api:1:100:3600000:100" }

    /// A paused Redis (SIGSTOP) accepts but never answers: requests time out, the breaker opens
    /// and later requests no longer wait at all.
    @Test func pausedRedisTripsTheBreaker() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .tokenBucket, 100, per: Self.hour)], clock: ManualClock(now: 0), policy: .allow,
            timeout: .milliseconds(50))
        #expect(try await r.check("api", "k").allowed)
        redis.pause()
        for _ in 0..<20 { #expect(try await r.check("api", "k").allowed) }
        let counts = r.observer.snapshot
        let timeouts = counts.operations.filter { $0.key.hasSuffix("/timeout") }.values.reduce(0, +)
        let attempts = counts.operations.filter { !$0.key.hasPrefix("ping") && !$0.key.hasSuffix("/ok") }.values.reduce(0, +)
        #expect(timeouts >= 1)
        #expect(attempts < 20, "with the breaker open, requests are answered without trying Redis")
        #expect(counts.fallbacks[.allow] == 20)
        redis.resume()
        await r.shutdown()
    }
}

/// Polls an async condition every 20 ms until it holds or `timeout` passes.
func pollAsync(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}
