import RateLimitConfig
import RateLimitCore
import Testing

/// The admin API's JSON is validated as a tree, never as YAML text (red team 2, F13).
@Suite struct NeutralRuleTests {
    private func rule(_ fields: [(String, ConfigValue)]) throws(ConfigError) -> Rule {
        try ConfigLoader.parseRule(.object([("name", .string("o1"))] + fields))
    }

    @Test func keysArriveByteForByte() throws {
        let keys = ["a\u{85}b", "\u{FEFF}vip", "a\u{80}b", "a b", "n\u{303}", "\u{F1}"]  // the last two: canonically equal, two keys
        let parsed = try rule([
            ("algorithm", .string("token_bucket")), ("limit", .number("5")), ("period", .string("1s")),
            ("overrides", .array(keys.map { .object([("key", .string($0)), ("limit", .number("100"))]) })),
        ])
        #expect(Set(parsed.overrides.keys.map { Array($0.string.utf8) }) == Set(keys.map { Array($0.utf8) }))
    }

    @Test func errorsNameTheJSONPath() {
        #expect(throws: ConfigError(field: "$.limit", line: nil, column: nil, message: "must be an integer")) {
            try rule([("algorithm", .string("token_bucket")), ("limit", .string("ten")), ("period", .string("1s"))])
        }
        do {
            _ = try rule([
                ("algorithm", .string("token_bucket")), ("limit", .number("5")), ("period", .string("1s")),
                ("overrides", .array([.object([("key", .string("k")), ("limit", .bool(true))])])),
            ])
            Issue.record("accepted a boolean limit")
        } catch {
            #expect(error.description == "$.overrides[0].limit: must be an integer")
        }
        #expect(throws: ConfigError.self) { try rule([("algorithm", .string("token_bucket")), ("limit", .number("1.5")), ("period", .string("1s"))]) }
        #expect(throws: ConfigError.self) { try rule([("algorithm", .string("token_bucket")), ("limit", .number("5")), ("period", .number("1"))]) }
    }

    @Test func stringsThatLookLikeOtherTypesStayStrings() throws {
        // "true" as a string is not a boolean, and "5" as a string is not a number.
        #expect(throws: ConfigError.self) {
            try rule([("algorithm", .string("token_bucket")), ("limit", .number("5")), ("period", .string("1s")), ("shadow", .string("true"))])
        }
    }
}
