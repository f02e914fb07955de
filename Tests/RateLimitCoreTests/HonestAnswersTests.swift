import RateLimitCore
import Testing

/// Answers that describe the key's state as it is (issue 15): status asks about now, and a denied
/// batch, which consumed nothing, says so in every item.
@Suite struct HonestAnswersTests {
    @Test func statusAtCostZeroShowsTheQuotaAsItStands() throws {
        let (limiter, clock) = makeLimiter(rule("tb", .tokenBucket, 10, per: 10 * second, burst: 5))
        let now = { try limiter.status(CheckRequest(rule: "tb", key: "k", cost: 0)) }
        #expect(try now().remaining == 5 && now().allowed && now().resetAfter == 0)  // fresh: the full burst
        _ = try limiter.check(CheckRequest(rule: "tb", key: "k", cost: 2))
        #expect(try now().remaining == 3 && now().resetAfter == 2 * second)          // partly used
        _ = try limiter.check(CheckRequest(rule: "tb", key: "k", cost: 3))
        #expect(try now().remaining == 0 && now().allowed)                           // used up: still a question about now
        #expect(try !limiter.status(CheckRequest(rule: "tb", key: "k", cost: 1)).allowed)
        #expect(try limiter.status(CheckRequest(rule: "tb", key: "k", cost: 1)).retryAfter == second)
        clock.advance(by: second)
        #expect(try now().remaining == 1)
    }

    @Test(arguments: Algorithm.allCases)
    func aDeniedBatchReportsTheUnchangedState(_ algorithm: Algorithm) throws {
        let (limiter, _) = makeLimiter(
            rule("a", algorithm, 20, per: 60 * second, burst: algorithm == .leakyBucket ? 19 : nil),
            rule("b", .fixedWindow, 1, per: 3600 * second))
        _ = try limiter.check(CheckRequest(rule: "a", key: "k", cost: algorithm == .concurrency ? 1 : 2))  // one lease per check
        _ = try limiter.check(CheckRequest(rule: "b", key: "k"))
        let before = try limiter.status(CheckRequest(rule: "a", key: "k", cost: 0))
        let batch = try limiter.check(batch: [CheckRequest(rule: "a", key: "k"), CheckRequest(rule: "b", key: "k")])
        #expect(!batch.allowed)
        let a = batch.decisions[0]
        #expect(a.allowed && a.remaining == before.remaining && a.resetAfter == before.resetAfter, "\(algorithm): \(a) vs \(before)")
        #expect(a.retryAfter == 0 && a.delay == 0)
        #expect(!batch.decisions[1].allowed && batch.decisions[1].remaining == 0 && batch.decisions[1].retryAfter > 0)
        let after = try limiter.status(CheckRequest(rule: "a", key: "k", cost: 0))
        #expect(after.remaining == before.remaining)
    }
}
