import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Testing

/// `explain` names the store that decided, forced each way against a real redis-server: Redis
/// itself, the over-limit cache, and with Redis killed the local fallback and the allow policy.
@Suite(.enabled(if: redisAvailable), .serialized) struct ExplainStoreTests {
    static let hour = 3600 * second

    func explained(_ r: RedisLimiter, _ key: String = "k") async throws -> (Decision, Explanation?) {
        let decision = try await r.check("api", key)
        return (decision, r.limiter.explain(CheckRequest(rule: "api", key: key), decision))
    }

    @Test func redisThenTheOverLimitCache() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let clock = ManualClock(now: 1_764_000_000 * second)
        let r = try RedisLimiter(redis: redis, rules: [rule("api", .tokenBucket, 1, per: Self.hour)], clock: clock, cacheDenials: true)
        let (allowed, first) = try await explained(r)
        #expect(allowed.allowed && first?.store == .redis)
        #expect(first?.state == nil, "Redis keeps the state; explain does not read it")
        #expect(first?.allowedAt == clock.now)
        let (denied, second) = try await explained(r)
        #expect(!denied.allowed && second?.store == .redis && second?.allowedAt == clock.now + denied.retryAfter)
        let (_, cached) = try await explained(r)
        #expect(cached?.store == .cachedDenial)
        await r.shutdown()
    }

    @Test(arguments: [(FailurePolicy.local, DecisionStore.localFallback), (.allow, .failurePolicy)])
    func aKilledRedisIsNamedByItsPolicy(policy: FailurePolicy, store: DecisionStore) async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let clock = ManualClock(now: 1_764_000_000 * second)
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .fixedWindow, 5, per: Self.hour)], clock: clock, policy: policy, timeout: .milliseconds(100))
        redis.kill()
        let (_, explanation) = try await explained(r)
        #expect(explanation?.store == store)
        if policy == .local {
            // The fallback is this pod's memory: its state is read, in plain units.
            let window = (clock.now / Self.hour) * Self.hour
            #expect(explanation?.fields.map(\.name) == ["window_start_ns", "count"])
            #expect(explanation?.fields.map(\.value) == [window, 1])
        }
        await r.shutdown()
    }
}
