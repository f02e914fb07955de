import RateLimitCore

let ms: Int64 = 1_000_000
let second: Int64 = 1_000_000_000

func limits(_ algorithm: Algorithm, _ limit: Int64, per period: Int64, burst: Int64? = nil) -> Limits {
    // Test inputs are constants chosen to be valid.
    try! Limits(algorithm: algorithm, limit: limit, period: period, burst: burst)
}

func rule(
    _ name: String, _ algorithm: Algorithm, _ limit: Int64, per period: Int64, burst: Int64? = nil,
    shadow: Bool = false, overrides: [ExactKey: OverridePolicy] = [:]
) -> Rule {
    try! Rule(name: name, limits: limits(algorithm, limit, per: period, burst: burst), shadow: shadow, overrides: overrides)
}

func makeLimiter(_ rules: Rule..., at start: Int64 = 0) -> (RateLimiter, ManualClock) {
    let clock = ManualClock(now: start)
    return (RateLimiter(rules: try! RuleSet(rules), clock: clock), clock)
}

extension RateLimiter {
    /// Checks `key` under `rule` and returns whether it was allowed.
    func allows(_ rule: String, _ key: String, cost: Int64 = 1) throws -> Bool {
        try check(CheckRequest(rule: rule, key: key, cost: cost)).allowed
    }

    /// How many unit requests in a row are allowed right now.
    func drain(_ rule: String, _ key: String, max: Int = 10_000) throws -> Int {
        var n = 0
        while n < max, try allows(rule, key) { n += 1 }
        return n
    }
}
