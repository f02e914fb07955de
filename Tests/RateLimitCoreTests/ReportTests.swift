import RateLimitCore
import Testing

/// Reports (issue 15): usage recorded after the fact, with debt repaid at the rule's rate,
/// capped refunds and idempotent retries, at exact instants on the manual clock.
@Suite struct ReportTests {
    func report(_ limiter: RateLimiter, _ rule: String, _ key: String, _ cost: Int64, id: String? = nil) throws -> Report {
        try limiter.report([ReportRequest(rule: rule, key: key, cost: cost, id: id)])[0]
    }

    @Test func tokenBucketDebtIsRepaidAtTheRefillRate() throws {
        // 1 token a second, capacity 5.
        let (limiter, clock) = makeLimiter(rule("tb", .tokenBucket, 10, per: 10 * second, burst: 5))
        let r = try report(limiter, "tb", "k", 8)
        #expect(r == Report(limit: 10, period: 10 * second, remaining: 0, resetAfter: 8 * second, retryAfter: 4 * second, debt: 3))
        #expect(try !limiter.allows("tb", "k", cost: 0))  // in debt: even a peek is refused
        clock.advance(by: 3 * second)
        #expect(try limiter.status(CheckRequest(rule: "tb", key: "k", cost: 0)).allowed)  // debt repaid, nothing left
        #expect(try limiter.status(CheckRequest(rule: "tb", key: "k")).retryAfter == second)
        clock.advance(by: second - 1)
        #expect(try !limiter.allows("tb", "k"))
        clock.advance(by: 1)
        #expect(try limiter.allows("tb", "k"))  // exactly at 4 s
    }

    @Test func debtIsCappedAtOneCapacity() throws {
        let (limiter, _) = makeLimiter(
            rule("tb", .tokenBucket, 10, per: 10 * second, burst: 5), rule("fw", .fixedWindow, 3, per: 60 * second),
            rule("sw", .slidingWindow, 4, per: 10 * second), rule("lb", .leakyBucket, 1, per: second, burst: 2))
        #expect(try report(limiter, "tb", "k", Limits.maxLimit).debt == 5)
        #expect(try report(limiter, "tb", "k", 1).debt == 5)
        #expect(try report(limiter, "fw", "k", Limits.maxLimit).debt == 3)
        #expect(try report(limiter, "sw", "k", Limits.maxLimit).debt == 4)
        #expect(try report(limiter, "lb", "k", Limits.maxLimit).debt == 2)
        #expect(try report(limiter, "tb", "k", -1).debt == 4)  // a refund below the cap counts in full
    }

    @Test func fixedWindowDebtEndsWithTheWindow() throws {
        let (limiter, clock) = makeLimiter(rule("fw", .fixedWindow, 3, per: 60 * second))
        let r = try report(limiter, "fw", "k", 5)
        #expect(r == Report(limit: 3, period: 60 * second, remaining: 0, resetAfter: 60 * second, retryAfter: 60 * second, debt: 2))
        #expect(try report(limiter, "fw", "k", -1).debt == 1)
        clock.advance(by: 60 * second - 1)
        #expect(try !limiter.allows("fw", "k"))
        clock.advance(by: 1)
        #expect(try limiter.drain("fw", "k") == 3)  // the next window starts clean: debt is not carried
    }

    @Test func slidingWindowCarriesAWeightedShareOfTheDebt() throws {
        let (limiter, clock) = makeLimiter(rule("sw", .slidingWindow, 4, per: 10 * second))
        #expect(try report(limiter, "sw", "k", 6).debt == 2)
        clock.advance(by: 10 * second)
        #expect(try report(limiter, "sw", "k", 0).debt == 2)  // all of the previous window still weighs
        clock.advance(by: 5 * second)
        let r = try report(limiter, "sw", "k", 0)  // half of 6 carried
        #expect(r.debt == 0 && r.remaining == 1)
        #expect(try limiter.drain("sw", "k") == 1)
    }

    @Test func leakyBucketDebtIsQueuePastWhatChecksCanReach() throws {
        // One a second, queue 2: checks alone reach a 4 s wait (2 queued + a cost of 2).
        let (limiter, clock) = makeLimiter(rule("lb", .leakyBucket, 1, per: second, burst: 2))
        let r = try report(limiter, "lb", "k", 5)
        #expect(r.debt == 1 && r.remaining == 0 && r.resetAfter == 5 * second && r.retryAfter == 3 * second)
        clock.advance(by: 3 * second - 1)
        #expect(try !limiter.allows("lb", "k"))
        clock.advance(by: 1)
        let d = try limiter.check(CheckRequest(rule: "lb", key: "k"))
        #expect(d.allowed && d.delay == 2 * second)
    }

    @Test(arguments: Algorithm.allCases.filter { $0 != .concurrency })  // leases are released, not reported (LeaseTests)
    func aRefundNeverGoesAboveAFreshKeysQuota(_ algorithm: Algorithm) throws {
        let (limiter, _) = makeLimiter(rule("r", algorithm, 10, per: 10 * second, burst: algorithm == .leakyBucket ? 3 : nil))
        let fresh = try limiter.status(CheckRequest(rule: "r", key: "k", cost: 0))
        let refunded = try report(limiter, "r", "new", -5)
        #expect(refunded.remaining == fresh.remaining && refunded.debt == 0 && refunded.resetAfter == 0)
        #expect(limiter.store.trackedKeys == 0)  // a refund on a fresh key does nothing
        _ = try limiter.check(CheckRequest(rule: "r", key: "k", cost: 2))
        let back = try report(limiter, "r", "k", -Limits.maxLimit)
        #expect(back.remaining == fresh.remaining && back.resetAfter == 0)
        #expect(limiter.store.trackedKeys == 0)
    }

    @Test func aRetriedIDCountsOnceWithinTheWindow() throws {
        let (limiter, clock) = makeLimiter(rule("fw", .fixedWindow, 100, per: 3600 * second))
        let first = try report(limiter, "fw", "k", 10, id: "call-1")
        #expect(!first.duplicate && first.remaining == 90)
        let retry = try report(limiter, "fw", "k", 10, id: "call-1")
        #expect(retry.duplicate && retry.remaining == 90)
        #expect(try !report(limiter, "fw", "other", 10, id: "call-1").duplicate)  // ids are per rule and key
        clock.advance(by: ReportLedger.window - 1)
        #expect(try report(limiter, "fw", "k", 10, id: "call-1").duplicate)
        clock.advance(by: 1)
        #expect(try report(limiter, "fw", "k", 10, id: "call-1").remaining == 80)  // remembered for exactly 10 minutes
    }

    @Test func theLedgerIsBounded() {
        let ledger = ReportLedger(capacity: 2)
        #expect(ledger.firstUse(rule: "r", key: "k", id: "a", now: 0))
        #expect(ledger.firstUse(rule: "r", key: "k", id: "b", now: 0))
        #expect(ledger.firstUse(rule: "r", key: "k", id: "c", now: 0))  // forgets "a" early
        #expect(ledger.counts == (remembered: 2, forgotten: 1))
        #expect(ledger.firstUse(rule: "r", key: "k", id: "a", now: 1))
        #expect(!ledger.firstUse(rule: "r", key: "k", id: "c", now: 1))
    }

    @Test func badReportsAreRefusedBeforeAnythingIsRecorded() throws {
        let (limiter, _) = makeLimiter(rule("fw", .fixedWindow, 3, per: 60 * second))
        let cases: [(ReportRequest, CheckError)] = [
            (ReportRequest(rule: "fw", key: "k", cost: Limits.maxLimit + 1), .reportCostOutOfRange(Limits.maxLimit + 1)),
            (ReportRequest(rule: "fw", key: "k", cost: -Limits.maxLimit - 1), .reportCostOutOfRange(-Limits.maxLimit - 1)),
            (ReportRequest(rule: "fw", key: "k", cost: 1, id: ""), .badReportID),
            (ReportRequest(rule: "fw", key: "k", cost: 1, id: String(repeating: "x", count: 129)), .badReportID),
            (ReportRequest(rule: "fw", key: "k", cost: 1, id: "a\nb"), .badReportID),
            (ReportRequest(rule: "nope", key: "k", cost: 1), .unknownRule("nope")),
            (ReportRequest(rule: "fw", key: "", cost: 1), .emptyKey),
        ]
        for (request, error) in cases {
            #expect(throws: error) { try limiter.report([ReportRequest(rule: "fw", key: "k", cost: 1), request]) }
        }
        #expect(throws: CheckError.emptyReports) { try limiter.report([]) }
        #expect(limiter.store.trackedKeys == 0)
        #expect(CheckError.reportCostOutOfRange(0).description == "report cost must be an integer from -1000000000 to 1000000000")
    }

    @Test func anUnlimitedKeyKeepsNoState() throws {
        let r = try Rule(
            name: "fw", limits: limits(.fixedWindow, 3, per: 60 * second), overrides: [ExactKey("probe"): .unlimited])
        let (limiter, _) = makeLimiter(r)
        let answer = try report(limiter, "fw", "probe", 50)
        #expect(answer.debt == 0 && answer.remaining == 3 && answer.store == .none)
        #expect(limiter.store.trackedKeys == 0)
    }
}
