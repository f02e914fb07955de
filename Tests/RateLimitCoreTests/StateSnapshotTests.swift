import RateLimitCore
import Testing

/// `--state-file`: key states survive a restart exactly; a changed rule starts fresh; bad bytes
/// are refused, never half-used (issue 18).
@Suite struct StateSnapshotTests {
    @Test func aRestoredLimiterDecidesExactlyAsAnUninterruptedOne() throws {
        let rules = try RuleSet([
            rule("tb", .tokenBucket, 10, per: 10 * second, burst: 5), rule("sw", .slidingWindow, 4, per: 60 * second),
            rule("fw", .fixedWindow, 3, per: 3600 * second), rule("lb", .leakyBucket, 2, per: second, burst: 3),
        ])
        let clock = ManualClock(now: 1_700_000_000 * second)
        let live = RateLimiter(rules: rules, clock: clock)
        for i in 0..<40 {
            let request = CheckRequest(rule: ["tb", "sw", "fw", "lb"][i % 4], key: "k\(i % 3)", cost: Int64(1 + i % 2))
            _ = try live.check(request)
            clock.advance(by: 137 * ms)
        }
        let bytes = live.stateSnapshot().encoded()
        let restoredClock = ManualClock(now: clock.now)
        let restored = RateLimiter(rules: rules, clock: restoredClock)
        let (count, skipped) = restored.restore(try StateSnapshot(decoding: bytes))
        #expect(count == live.store.trackedKeys && skipped == 0)
        for i in 0..<60 {
            let request = CheckRequest(rule: ["tb", "sw", "fw", "lb"][i % 4], key: "k\(i % 3)", cost: 1)
            #expect(try live.check(request) == restored.check(request), "step \(i)")
            clock.advance(by: 211 * ms)
            restoredClock.advance(by: 211 * ms)
        }
    }

    @Test func aChangedRuleStartsFreshAnUnchangedOneKeepsItsState() throws {
        let (before, _) = makeLimiter(rule("same", .fixedWindow, 3, per: 3600 * second), rule("changed", .fixedWindow, 3, per: 3600 * second))
        for rule in ["same", "changed"] { _ = try before.check(CheckRequest(rule: rule, key: "k", cost: 3)) }
        let snapshot = try StateSnapshot(decoding: before.stateSnapshot().encoded())
        let (after, _) = makeLimiter(rule("same", .fixedWindow, 3, per: 3600 * second), rule("changed", .fixedWindow, 5, per: 3600 * second))
        #expect(after.restore(snapshot) == (restored: 1, skipped: 1))
        #expect(try !after.allows("same", "k"))
        #expect(try after.drain("changed", "k") == 5)
    }

    @Test func overridesAreRestoredUnderTheirOwnLimits() throws {
        let r = rule("o", .fixedWindow, 1, per: 3600 * second, overrides: ["vip": .limited(limits(.fixedWindow, 10, per: 3600 * second))])
        let (before, _) = makeLimiter(r)
        _ = try before.check(CheckRequest(rule: "o", key: "vip", cost: 4))
        let (after, _) = makeLimiter(r)
        #expect(after.restore(before.stateSnapshot()).restored == 1)
        #expect(try after.drain("o", "vip") == 6)
    }

    @Test func corruptForeignOrTruncatedBytesAreRefused() throws {
        let (limiter, _) = makeLimiter(rule("a", .fixedWindow, 3, per: 3600 * second))
        _ = try limiter.check(CheckRequest(rule: "a", key: "k"))
        let good = limiter.stateSnapshot().encoded()
        #expect(try StateSnapshot(decoding: good).entries.count == 1)
        var flipped = good
        flipped[flipped.count / 2] ^= 0x40
        for bad in [flipped, Array(good.dropLast(3)), Array("rules:\n  - {}\n".utf8), [], Array(good.prefix(8))] {
            #expect(throws: StateSnapshot.Malformed.self) { try StateSnapshot(decoding: bad) }
        }
    }
}
