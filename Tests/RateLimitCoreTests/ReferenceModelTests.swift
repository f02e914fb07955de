import RateLimitCore
import RateLimitTestSupport
import Testing

/// An exact rational number (numerator/denominator in lowest terms, denominator > 0).
struct Rational: Comparable {
    var num: Int128
    var den: Int128

    init(_ num: Int128, _ den: Int128 = 1) {
        let g = Rational.gcd(num < 0 ? -num : num, den)
        self.num = num / g
        self.den = den / g
    }

    static func gcd(_ a: Int128, _ b: Int128) -> Int128 { b == 0 ? max(a, 1) : gcd(b, a % b) }
    static func + (a: Rational, b: Rational) -> Rational { Rational(a.num * b.den + b.num * a.den, a.den * b.den) }
    static func - (a: Rational, b: Rational) -> Rational { Rational(a.num * b.den - b.num * a.den, a.den * b.den) }
    static func * (a: Rational, b: Rational) -> Rational { Rational(a.num * b.num, a.den * b.den) }
    static func < (a: Rational, b: Rational) -> Bool { a.num * b.den < b.num * a.den }
    var floor: Int128 { num >= 0 ? num / den : -((-num + den - 1) / den) }
    var ceil: Int128 { -Rational(-num, den).floor }
}

/// The textbook token bucket: a level of tokens (a rational number) refilled continuously.
struct ReferenceBucket {
    let limit: Int128, period: Int128, burst: Int128
    var tokens: Rational
    var last: Int128 = 0

    init(limit: Int64, period: Int64, burst: Int64) {
        self.limit = Int128(limit)
        self.period = Int128(period)
        self.burst = Int128(burst)
        self.tokens = Rational(Int128(burst))
    }

    /// (allowed, remaining, retryAfter ns)
    mutating func take(_ cost: Int64, at now: Int64) -> (Bool, Int64, Int64) {
        tokens = min(Rational(burst), tokens + Rational(Int128(now) - last) * Rational(limit, period))
        last = Int128(now)
        let want = Rational(Int128(cost))
        if want <= tokens {
            tokens = tokens - want
            return (true, Int64(tokens.floor), 0)
        }
        let wait = (want - tokens) * Rational(period, limit)
        return (false, Int64(tokens.floor), Int64(wait.ceil))
    }
}

@Suite struct ReferenceModelTests {
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func tokenBucketMatchesExactRationalModel(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let limit = Int64.random(in: 1...50, using: &rng)
        let period = Int64.random(in: 1...7_000, using: &rng) * ms + Int64.random(in: 0...999_999, using: &rng)
        let burst = Int64.random(in: 1...20, using: &rng)
        let (limiter, clock) = makeLimiter(rule("r", .tokenBucket, limit, per: period, burst: burst))
        var model = ReferenceBucket(limit: limit, period: period, burst: burst)
        let interval = period / limit
        for step in 0..<2_000 {
            // Bursts of simultaneous requests, small gaps, gaps around one interval, long idles.
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<3: break
            case 3..<7: clock.advance(by: Int64.random(in: 0...interval, using: &rng))
            case 7..<9: clock.advance(by: interval + Int64.random(in: -2...2, using: &rng))
            default: clock.advance(by: Int64.random(in: 0...(period * 2), using: &rng))
            }
            let cost = Int64.random(in: 0...burst, using: &rng)
            let got = try limiter.check(CheckRequest(rule: "r", key: "k", cost: cost))
            let want = model.take(cost, at: clock.now)
            #expect(
                (got.allowed, got.remaining, got.retryAfter) == want,
                "step \(step) t=\(clock.now) cost=\(cost) limit=\(limit) period=\(period) burst=\(burst)")
            if (got.allowed, got.remaining, got.retryAfter) != want { return }
        }
    }
}
