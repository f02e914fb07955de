import RateLimitCore
import RateLimitTestSupport
import Testing

/// Space-Saving and the two-interval top keys: known heavy hitters come out in order within the
/// stated bounds, the memory stays at the capacity, and the intervals slide exactly.
@Suite struct TopKeysTests {
    static func hash(_ key: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// A seeded stream: `heavy[i]` appears `weights[i]` times, shuffled among `noise` distinct
    /// keys that appear once each.
    static func stream(heavy: [String], weights: [Int], noise: Int, seed: UInt64) -> [String] {
        var rng = SeededGenerator(seed: seed)
        var keys = (0..<noise).map { "noise-\($0)" }
        for (key, weight) in zip(heavy, weights) { keys += Array(repeating: key, count: weight) }
        keys.shuffle(using: &rng)
        return keys
    }

    @Test func heavyHittersComeOutInOrderWithinTheBound() {
        let heavy = ["alice", "bob", "carol", "dave"]
        let weights = [12_000, 8_000, 5_000, 2_500]  // gaps wider than N / capacity, so the order is certain
        let stream = Self.stream(heavy: heavy, weights: weights, noise: 100_000, seed: 3)
        var summary = SpaceSaving(capacity: 64)
        for key in stream { summary.add(key, hash: Self.hash(key)) }
        let top = Array(summary.entries.prefix(4))
        #expect(top.map(\.key) == heavy)
        for (entry, truth) in zip(top, weights) {
            #expect(entry.count - entry.error <= Int64(truth) && Int64(truth) <= entry.count)
        }
        // Every count over-counts by at most N / capacity.
        let bound = Int64(stream.count / 64)
        #expect(summary.entries.allSatisfy { $0.error <= bound })
        #expect(summary.entries.count == 64)
        #expect(summary.untrackedBound <= bound)
    }

    @Test func aMillionDistinctKeysKeepTheCapacity() {
        var summary = SpaceSaving(capacity: 16)
        for i in 0..<1_000_000 {
            let key = "k\(i)"
            summary.add(key, hash: Self.hash(key))
        }
        #expect(summary.entries.count == 16)
        #expect(summary.entries.allSatisfy { $0.count - $0.error == 1 })  // each was seen once
    }

    @Test func hashCollisionsAreTwoKeys() {
        var summary = SpaceSaving(capacity: 4)
        summary.add("a", hash: 7)
        summary.add("b", hash: 7)
        summary.add("a", hash: 7)
        #expect(summary.entries == [
            SpaceSaving.Entry(key: "a", count: 2, error: 0), SpaceSaving.Entry(key: "b", count: 1, error: 0),
        ])
    }

    @Test func countsStayExactWhileEveryKeyFits() {
        var rng = SeededGenerator(seed: 5)
        var truth: [String: Int64] = [:]
        var summary = SpaceSaving(capacity: 32)
        for _ in 0..<10_000 {
            let key = "u\(Int.random(in: 0..<32, using: &rng))"
            truth[key, default: 0] += 1
            summary.add(key, hash: Self.hash(key) & 3)  // crowded probe runs: the index must hold
        }
        #expect(Dictionary(uniqueKeysWithValues: summary.entries.map { ($0.key, $0.count) }) == truth)
        #expect(summary.entries.allSatisfy { $0.error == 0 })
    }

    @Test func intervalsSlideExactly() {
        let minute: Int64 = 60 * second
        var top = TopKeys(capacity: 8, interval: minute)
        for _ in 0..<3 { top.add("early", hash: 1, denied: true, now: 10 * second) }
        top.add("late", hash: 2, denied: false, now: minute + 5 * second)
        // In the second interval: both intervals are covered.
        var report = top.report(by: .requests, n: 10, now: minute + 30 * second)
        #expect(report.keys.map(\.key) == ["early", "late"] && report.keys.map(\.count) == [3, 1])
        #expect(report.covering == minute + 30 * second)
        #expect(top.report(by: .denied, n: 10, now: minute + 30 * second).keys.map(\.key) == ["early"])
        // One interval later "early" has slid out; two later, everything.
        report = top.report(by: .requests, n: 10, now: 2 * minute)
        #expect(report.keys.map(\.key) == ["late"] && report.covering == minute)
        #expect(top.report(by: .requests, n: 10, now: 4 * minute).keys.isEmpty)
    }

    @Test func aKeyInOneIntervalOnlyCarriesTheOtherIntervalsBound() {
        var top = TopKeys(capacity: 1, interval: second)
        top.add("x", hash: 1, denied: false, now: 0)
        top.add("x", hash: 1, denied: false, now: 0)
        top.add("y", hash: 2, denied: false, now: second)  // the current interval's only key
        let report = top.report(by: .requests, n: 5, now: second)
        // "x" may also have been seen up to once now (current bound 1); "y" up to twice before.
        #expect(report.keys == [  // equal counts: by key
            TopKeys.Ranked(key: "x", count: 3, error: 1), TopKeys.Ranked(key: "y", count: 3, error: 2),
        ])
        #expect(report.untrackedBound == 3)
    }
}
