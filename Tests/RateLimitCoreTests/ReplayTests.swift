import RateLimitCore
import Testing

/// `sluice replay`'s engine: refusals are counted, not fatal (issue 15), and a comparison of two
/// rule sets reports what a change would change (issue 18).
@Suite struct ReplayTests {
    private func event(_ ms: Int64, _ rule: String, _ key: String, cost: Int64 = 1) -> ReplayEvent {
        ReplayEvent(time: ms * 1_000_000, rule: rule, key: key, cost: cost)
    }

    @Test func anImpossibleCostIsRefusedAndTheReplayGoesOn() throws {
        let session = ReplaySession(rules: try RuleSet([rule("api", .tokenBucket, 10, per: second, burst: 3)]))
        #expect(try session.apply(event(0, "api", "k")).allowed)
        #expect(try session.apply(event(1, "api", "k", cost: 4)) == .refused(.costExceedsCapacity(cost: 4, capacity: 3)))
        #expect(try session.apply(event(2, "nope", "k")) == .refused(.unknownRule("nope")))
        #expect(try session.apply(event(3, "api", "k", cost: 2)).allowed)
        let summary = session.summary()
        #expect(summary.map(\.rule) == ["api", "nope"])
        #expect(summary[0].requests == 3 && summary[0].allowed == 2 && summary[0].refused == 1)
        #expect(summary[1].refused == 1)
    }

    @Test func aTightenedRuleReportsTheNewlyDeniedKeys() throws {
        let before = try RuleSet([rule("api", .fixedWindow, 5, per: 60 * second), rule("other", .fixedWindow, 100, per: second)])
        let after = try RuleSet([rule("api", .fixedWindow, 3, per: 60 * second), rule("other", .fixedWindow, 100, per: second)])
        let comparison = ReplayComparison(before: before, after: after)
        var line = 0
        for (i, key) in ["heavy", "heavy", "heavy", "heavy", "heavy", "light", "heavy", "light", "mid", "mid", "mid", "mid"].enumerated() {
            line += 1
            _ = try comparison.apply(event(Int64(i), "api", key), line: line)
        }
        line += 1
        _ = try comparison.apply(event(20, "other", "x"), line: line)
        let report = comparison.report()
        #expect(report.map(\.rule) == ["api", "other"])
        let api = report[0]
        // heavy: 6 requests, 5 allowed before, 3 after; mid: 4 requests, 4 before, 3 after.
        #expect(api.requests == 12 && api.deniedBefore == 1 && api.deniedAfter == 4)
        #expect(api.newlyDenied == 3 && api.newlyAllowed == 0)
        #expect(api.firstDivergence == 4)
        #expect(api.newlyDeniedKeys.map(\.key) == ["heavy", "mid"] && api.newlyDeniedKeys.map(\.denied) == [2, 1])
        #expect(report[1].newlyDenied == 0 && report[1].firstDivergence == nil)
        #expect(comparison.newlyDeniedShare == 3.0 / 13.0)
    }

    @Test func aLoosenedRuleReportsTheNewlyAllowed() throws {
        let comparison = ReplayComparison(
            before: try RuleSet([rule("api", .fixedWindow, 1, per: 60 * second)]),
            after: try RuleSet([rule("api", .fixedWindow, 2, per: 60 * second)]))
        for i in 0..<3 { _ = try comparison.apply(event(Int64(i), "api", "k"), line: i + 1) }
        let api = comparison.report()[0]
        #expect(api.newlyAllowed == 1 && api.newlyDenied == 0 && api.firstDivergence == 2)
        #expect(comparison.newlyDeniedShare == 0)
    }
}
