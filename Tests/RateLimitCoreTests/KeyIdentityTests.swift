import RateLimitCore
import Testing

/// Keys and rule names are bytes as sent, with no Unicode normalisation (red team 2, F14),
/// the same in memory as in Redis.
@Suite struct KeyIdentityTests {
    @Test func canonicallyEquivalentKeysAreDifferentKeys() throws {
        let (limiter, _) = makeLimiter(rule("one", .fixedWindow, 1, per: 3600 * second))
        // "n" + combining tilde vs the precomposed "ñ": equal as Swift Strings, different bytes.
        for i in 0..<300 {
            #expect(try limiter.allows("one", "n\u{303}-\(i)"))
            #expect(try limiter.allows("one", "\u{F1}-\(i)"), "pair \(i) shared a budget")
        }
        try limiter.reset(rule: "one", key: "\u{F1}-7")
        #expect(try !limiter.allows("one", "n\u{303}-7"), "a reset of one spelling cleared the other")
        #expect(try limiter.allows("one", "\u{F1}-7"))
    }

    @Test func overridesMatchBytes() throws {
        let (limiter, _) = makeLimiter(rule("o", .tokenBucket, 1, per: 3600 * second, overrides: [ExactKey("\u{F1}"): .unlimited]))
        #expect(try limiter.check(CheckRequest(rule: "o", key: "\u{F1}")).limit == 1)  // unlimited answers with the rule's limit
        #expect(try limiter.drain("o", "\u{F1}", max: 5) == 5)
        #expect(try limiter.drain("o", "n\u{303}", max: 5) == 1)
    }

    @Test func ruleNamesMatchBytes() throws {
        let (limiter, _) = makeLimiter(rule("Kafka", .fixedWindow, 1, per: 3600 * second))
        #expect(throws: CheckError.unknownRule("\u{212A}afka")) { try limiter.check(CheckRequest(rule: "\u{212A}afka", key: "x")) }
        #expect(limiter.rules["\u{212A}afka"] == nil)
        #expect(try limiter.allows("Kafka", "x"))
        // Also past the linear scan (more than 16 rules: the dictionary path).
        let many = try RuleSet((0..<20).map { rule("r\($0)", .fixedWindow, 1, per: second) } + [rule("Kafka", .fixedWindow, 1, per: second)])
        limiter.replaceRules(many)
        #expect(throws: CheckError.self) { try limiter.check(CheckRequest(rule: "\u{212A}afka", key: "x")) }
        #expect(try limiter.allows("Kafka", "y"))
    }

    @Test func exactKeyHashesAndOrdersByBytes() {
        #expect(ExactKey("\u{F1}") != ExactKey("n\u{303}"))
        #expect(Set([ExactKey("\u{F1}"), ExactKey("n\u{303}"), ExactKey("\u{F1}")]).count == 2)
        #expect(ExactKey("a\u{301}\u{323}") != ExactKey("a\u{323}\u{301}"))  // same length, reordered marks
        #expect(ExactKey("B") < ExactKey("a"))  // bytes, not Unicode collation
    }
}
