import RateLimitCore
import Testing

/// `explain` on the memory store, exact on the manual clock.
@Suite struct ExplainTests {
    @Test func theRuleOverrideLimitsStateAndAllowedInstant() throws {
        let vip = try Limits(algorithm: .tokenBucket, limit: 2, period: 10 * second, burst: 2)
        let (limiter, clock) = makeLimiter(
            rule("api", .tokenBucket, 1, per: 10 * second, overrides: [ExactKey("vip"): .limited(vip), ExactKey("probe"): .unlimited]),
            at: 1_000 * second)
        let plain = try limiter.check(CheckRequest(rule: "api", key: "k"))
        let first = try #require(limiter.explain(CheckRequest(rule: "api", key: "k"), plain))
        #expect(first.store == .memory && first.override == nil && first.limits?.limit == 1)
        #expect(first.fields.map(\.name) == ["tat_ns"] && first.fields.map(\.value) == [1_010 * second])
        #expect(first.allowedAt == clock.now)
        let denied = try limiter.check(CheckRequest(rule: "api", key: "k"))
        let again = try #require(limiter.explain(CheckRequest(rule: "api", key: "k"), denied))
        #expect(!denied.allowed && again.allowedAt == 1_010 * second)  // when the one token is back

        let overridden = try limiter.check(CheckRequest(rule: "api", key: "vip"))
        let v = try #require(limiter.explain(CheckRequest(rule: "api", key: "vip"), overridden))
        #expect(v.override == "vip" && v.limits == vip && v.fields.map(\.value) == [1_005 * second])

        let unlimited = try limiter.check(CheckRequest(rule: "api", key: "probe"))
        let u = try #require(limiter.explain(CheckRequest(rule: "api", key: "probe"), unlimited))
        #expect(u.store == DecisionStore.none && u.limits == nil && u.override == "probe" && u.fields.isEmpty)
        #expect(limiter.explain(CheckRequest(rule: "nope", key: "k"), plain) == nil)
    }

    @Test func slidingWindowStateInPlainUnits() throws {
        let (limiter, clock) = makeLimiter(rule("w", .slidingWindow, 10, per: 60 * second), at: 600 * second)
        for _ in 0..<3 { _ = try limiter.check(CheckRequest(rule: "w", key: "k")) }
        clock.advance(by: 60 * second)
        let decision = try limiter.check(CheckRequest(rule: "w", key: "k", cost: 2))
        let e = try #require(limiter.explain(CheckRequest(rule: "w", key: "k"), decision))
        #expect(e.fields.map(\.name) == ["window_start_ns", "current", "previous"])
        #expect(e.fields.map(\.value) == [660 * second, 2, 3])
    }
}
