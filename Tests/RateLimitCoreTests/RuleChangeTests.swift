import RateLimitCore
import Synchronization
import Testing

/// Rule changes: serialised, linear, slots reused (red team 2, F5, F9, F11).
@Suite struct RuleChangeTests {
    /// F9: 20,000 changes of one rule leave the store with a bounded number of tables.
    @Test func slotsOfChangedRulesAreReused() throws {
        let (limiter, _) = makeLimiter(rule("churn", .tokenBucket, 2, per: 3600 * second))
        for i in 0..<20_000 {
            limiter.replaceRules(try RuleSet([rule("churn", .tokenBucket, 2 + Int64(i % 2), per: 3600 * second)]))
            if i % 1000 == 0 { #expect(try limiter.allows("churn", "k\(i)")) }
        }
        #expect(limiter.store.slotCount <= 3)
    }

    /// A reused slot starts empty: the new rule never sees the old rule's keys.
    @Test func aReusedSlotStartsFresh() throws {
        let (limiter, _) = makeLimiter(rule("a", .fixedWindow, 1, per: 3600 * second))
        #expect(try limiter.allows("a", "k"))
        #expect(try !limiter.allows("a", "k"))
        limiter.replaceRules(try RuleSet([rule("b", .fixedWindow, 1, per: 3600 * second)]))  // a's slot freed
        limiter.replaceRules(try RuleSet([rule("b", .fixedWindow, 1, per: 3600 * second), rule("c", .fixedWindow, 1, per: 3600 * second)]))
        #expect(try limiter.allows("c", "k"))
    }

    /// F11: concurrent read-modify-write changes all land.
    @Test func concurrentUpdatesAllLand() async throws {
        let (limiter, _) = makeLimiter(rule("base", .tokenBucket, 10, per: second))
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for i in 0..<150 {
                        let added = rule("r-\(writer)-\(i)", .tokenBucket, 10, per: second)
                        _ = try? limiter.update { (rules: RuleSet) throws(RuleError) -> RuleSet in try rules.upserting(added) }
                    }
                }
            }
        }
        #expect(limiter.rules.rules.count == 601)
    }

    /// F5: recorders are made outside the rule lock, so a slow registration never blocks checks
    /// (a check from inside `makeRecorder` would deadlock if the lock were held).
    @Test func recordersAreMadeOutsideTheRuleLock() throws {
        let holder = Mutex<RateLimiter?>(nil)
        let checked = Mutex(0)
        let limiter = RateLimiter(
            rules: try RuleSet([rule("base", .tokenBucket, 10, per: second)]), clock: ManualClock(now: 0),
            makeRecorder: { _ in
                if let limiter = holder.withLock({ $0 }), (try? limiter.check(CheckRequest(rule: "base", key: "k")))?.allowed == true {
                    checked.withLock { $0 += 1 }
                }
                return nil
            })
        holder.withLock { $0 = limiter }
        limiter.replaceRules(try RuleSet([rule("base", .tokenBucket, 10, per: second)] + (0..<3).map { rule("n\($0)", .tokenBucket, 1, per: second) }))
        #expect(checked.withLock { $0 } == 3)
    }

    /// Installing many rules is linear: each new name gets one recorder, once.
    @Test func eachNewRuleGetsOneRecorder() throws {
        let made = Mutex(0)
        let installed = Mutex<[Int]>([])
        let limiter = RateLimiter(
            rules: .empty, clock: ManualClock(now: 0),
            makeRecorder: { _ in made.withLock { $0 += 1 }; return nil },
            rulesInstalled: { rules in installed.withLock { $0.append(rules.rules.count) } })
        let many = try RuleSet((0..<20_000).map { rule("r\($0)", .tokenBucket, 10, per: second) })
        limiter.replaceRules(many)
        limiter.replaceRules(many)
        #expect(made.withLock { $0 } == 20_000)
        #expect(installed.withLock { $0 } == [0, 20_000, 20_000])
    }

    @Test func aFailedUpdateChangesNothing() throws {
        let (limiter, _) = makeLimiter(rule("a", .tokenBucket, 10, per: second))
        struct Refused: Error {}
        #expect(throws: Refused.self) { try limiter.update { (_: RuleSet) throws(Refused) -> RuleSet in throw Refused() } }
        #expect(limiter.rules.rules.map(\.name) == ["a"])
    }

    @Test func fingerprintsAreStableAndTellRulesApart() throws {
        let a = try RuleSet([rule("a", .tokenBucket, 10, per: second, overrides: ["x": .unlimited, "y": .unlimited])])
        let same = try RuleSet([rule("a", .tokenBucket, 10, per: second, overrides: ["y": .unlimited, "x": .unlimited])])
        let other = try RuleSet([rule("a", .tokenBucket, 11, per: second)])
        #expect(a.sha256 == same.sha256)
        #expect(a.sha256 != other.sha256)
        #expect(a.sha256.count == 64)
    }

    @Test func sha256MatchesTheStandardVectors() {
        #expect(SHA256.hex("".utf8) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
