import RateLimitCore
import Testing

private func entry(_ key: String, _ value: String? = nil) -> DescriptorEntry { DescriptorEntry(key: key, value: value) }

private func rule(_ name: String, _ matches: [DescriptorMatch], limit: Int64 = 5) throws -> Rule {
    try Rule(name: name, limits: Limits(algorithm: .fixedWindow, limit: limit, period: second), descriptors: matches)
}

@Suite struct DescriptorTests {
    @Test func theValueOfAnAnyValueEntryIsTheKey() throws {
        let rules = try RuleSet([try rule("ip", [try DescriptorMatch(domain: "edge", entries: [entry("remote_address")])])])
        let index = rules.descriptors
        #expect(index.match(domain: "edge", entries: [("remote_address", "10.0.0.1")]) == .rule("ip", key: "10.0.0.1"))
        #expect(index.match(domain: "edge", entries: [("remote_address", "10.0.0.1"), ("path", "/")]) == .noRule)
        #expect(index.match(domain: "edge", entries: [("path", "/")]) == .noRule)
        #expect(index.match(domain: "other", entries: [("remote_address", "10.0.0.1")]) == .unknownDomain)
        #expect(index.knows(domain: "edge") && !index.knows(domain: "other"))
    }

    @Test func theMostSpecificRuleWinsThenTheEarlier() throws {
        let rules = try RuleSet([
            try rule("any", [try DescriptorMatch(domain: "d", entries: [entry("path"), entry("user")])]),
            try rule("login", [try DescriptorMatch(domain: "d", entries: [entry("path", "/login"), entry("user")])]),
            try rule("ann", [try DescriptorMatch(domain: "d", entries: [entry("path"), entry("user", "ann")])]),
            try rule("fixed", [try DescriptorMatch(domain: "d", entries: [entry("path", "/admin"), entry("user", "root")])]),
        ])
        let index = rules.descriptors
        #expect(index.match(domain: "d", entries: [("path", "/home"), ("user", "bob")]) == .rule("any", key: "/home|bob"))
        #expect(index.match(domain: "d", entries: [("path", "/login"), ("user", "bob")]) == .rule("login", key: "bob"))
        // login and ann are equally specific: the earlier rule wins.
        #expect(index.match(domain: "d", entries: [("path", "/login"), ("user", "ann")]) == .rule("login", key: "ann"))
        #expect(index.match(domain: "d", entries: [("path", "/x"), ("user", "ann")]) == .rule("ann", key: "/x"))
        // Every value fixed: the key is the values.
        #expect(index.match(domain: "d", entries: [("path", "/admin"), ("user", "root")]) == .rule("fixed", key: "/admin|root"))
    }

    @Test func twoRulesCannotMatchTheSameDescriptor() throws {
        let match = try DescriptorMatch(domain: "edge", entries: [entry("remote_address")])
        #expect(throws: RuleError.self) { try RuleSet([try rule("a", [match]), try rule("b", [match])]) }
        let rules = try RuleSet([try rule("a", [match])])
        #expect(throws: RuleError.self) { try rules.upserting(try rule("b", [match])) }
        // Replacing the owner itself is fine; removing it frees the descriptor.
        #expect(try rules.upserting(try rule("a", [match], limit: 9)).descriptors.match(domain: "edge", entries: [("remote_address", "x")]) == .rule("a", key: "x"))
        #expect(rules.removing("a").descriptors.match(domain: "edge", entries: [("remote_address", "x")]) == .unknownDomain)
    }

    @Test func badMatchesAreRejected() {
        #expect(throws: RuleError.self) { try DescriptorMatch(domain: "", entries: [entry("k")]) }
        #expect(throws: RuleError.self) { try DescriptorMatch(domain: "d", entries: []) }
        #expect(throws: RuleError.self) { try DescriptorMatch(domain: "d", entries: [entry("")]) }
    }

    @Test func changingOnlyDescriptorsKeepsTheKeysState() throws {
        let plain = try rule("r", [], limit: 2)
        let clock = ManualClock()
        let limiter = RateLimiter(rules: try RuleSet([plain]), clock: clock)
        #expect(try limiter.allows("r", "k"))
        limiter.replaceRules(try RuleSet([try rule("r", [try DescriptorMatch(domain: "d", entries: [entry("k")])], limit: 2)]))
        #expect(try limiter.allows("r", "k"))
        #expect(try !limiter.allows("r", "k"))  // the first request still counts
        #expect(limiter.rules.descriptors.knows(domain: "d"))
    }
}

/// A large index (hashed lookups) answers exactly like a small one (scanned).
@Suite struct DescriptorIndexSizeTests {
    @Test func scannedAndHashedLookupsAgree() throws {
        func rules(_ n: Int) throws -> [Rule] {
            try (0..<n).map { i in
                try Rule(
                    name: "r\(i)", limits: Limits(algorithm: .fixedWindow, limit: 1, period: 1_000_000_000),
                    descriptors: [DescriptorMatch(domain: "d\(i % 3)", entries: [DescriptorEntry(key: "k\(i)"), DescriptorEntry(key: "path", value: i % 2 == 0 ? "/a" : nil)])])
            }
        }
        let small = try RuleSet(rules(6)).descriptors
        let large = try RuleSet(rules(60)).descriptors
        for i in 0..<6 {
            for path in ["/a", "/b"] {
                let keys = ["k\(i)", "path"][...]
                let values = ["v", path][...]
                #expect(small.match(domain: "d\(i % 3)", keys: keys, values: values) == large.match(domain: "d\(i % 3)", keys: keys, values: values))
            }
        }
        #expect(small.match(domain: "d0", keys: ["k0", "path"][...], values: ["v", "/a"][...]) == .rule("r0", key: "v"))
        #expect(large.match(domain: "nope", keys: ["k0"][...], values: ["v"][...]) == .unknownDomain)
        #expect(small.match(domain: "nope", keys: ["k0"][...], values: ["v"][...]) == .unknownDomain)
        #expect(small.match(domain: "d0", keys: ["zz"][...], values: ["v"][...]) == .noRule)
    }
}
