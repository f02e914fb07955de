import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Testing

/// The scripts against `Algorithms`, the only reference model, on a real redis-server: seeded
/// traces that compare every returned number, every stored state, every TTL and the number of
/// writes (`ScriptHarness`), with states and arguments on both sides of and exactly on each of
/// the scripts' 2^53 fast-path guards. The test fails unless every case in
/// `Coverage.required` came up.
@Suite(.enabled(if: redisAvailable), .serialized) struct LuaTraceTests {
    @Test func scriptsDecideExactlyLikeAlgorithms() throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let h = try ScriptHarness(client: try RedisTestClient(port: redis.port))
        for seed in 1...16 as ClosedRange<UInt64> {
            var rng = SeededGenerator(seed: seed)
            try trace(h, &rng, seed: seed, steps: 500)
            try slidingBoundaries(h, &rng, seed: seed, cases: 25)
            try guardBoundaries(h, &rng, seed: seed, cases: 50)
            try reports(h, &rng, seed: seed, steps: 50)
        }
        try ttlEdges(h)
        #expect(h.coverage.missing == [], "never exercised; coverage \(h.coverage.counts.sorted { $0.key < $1.key })")
    }

    /// Random rules, keys, costs, gaps, singles, batches and multis; retries exactly at retry_after.
    func trace(_ h: ScriptHarness, _ rng: inout SeededGenerator, seed: UInt64, steps: Int) throws {
        let kind = rng.int(0...3)  // 0: near 0, 1 and 2: Redis's clock, 3: close to 2^53 µs
        var now = kind == 0 ? rng.int(0...1_000_000) : kind == 3 ? maxMicroseconds - rng.int(1_000_000_000_000...100_000_000_000_000)
            : try h.redisNow() + rng.int(-1_000_000_000...1_000_000_000)
        let keys = (0..<rng.int(1...5)).map { "sluice:{t\(seed)}:k\($0)" }
        var rules: [String: ScriptLimits] = [:]
        for key in keys { rules[key] = randomLimits(&rng) }
        var retryAt: [String: Int64] = [:]  // the instant a key's last denial said to retry
        for _ in 0..<steps {
            let key = keys[Int(rng.int(0...Int64(keys.count - 1)))]
            if rng.chance(0.01) {
                rules[key] = randomLimits(&rng)
                h.coverage.add("limits changed on a key", h.reference.stored[key] != nil)
            }
            let limits = rules[key] ?? randomLimits(&rng)
            if let at = retryAt[key], rng.chance(0.3) {
                retryAt[key] = nil
                now = max(at - [0, 0, 1][Int(rng.int(0...2))], now)  // the boundary, and just before it
            } else {
                now += randomGap(&rng, limits, now: now)
            }
            now = min(max(now, 0), maxMicroseconds)
            let useTime = (kind == 1 || kind == 2) && rng.chance(0.03)
            let commit = rng.chance(0.75)
            var items = [ScriptItem(key: key, limits: limits, cost: randomCost(&rng, limits))]
            let call: ScriptHarness.Call = rng.chance(0.5) ? .single : rng.chance(0.6) ? .batch : .multi
            if call != .single {
                let n = [1, 2, 3, rng.int(1...8), rng.chance(0.1) ? rng.int(1...64) : 4][Int(rng.int(0...4))]
                items = (0..<n).map { _ in
                    let k = keys[Int(rng.int(0...Int64(keys.count - 1)))]
                    let l = rules[k] ?? limits
                    return ScriptItem(key: k, limits: l, cost: randomCost(&rng, l), shadow: rng.chance(0.25), commit: rng.chance(0.75))
                }
            }
            let (at, answers) = try h.step(items, commit: commit, now: useTime ? nil : now, as: call)
            now = at
            for (item, answer) in zip(items, answers) where !answer.allowed && answer.retryAfter < maxMicroseconds {
                retryAt[item.key] = now + answer.retryAfter
            }
        }
    }

    /// Sliding-window states built so that previous·(period − elapsed) = spare·period exactly,
    /// with products far above 2^53: a request exactly on the boundary (allowed) and 1 µs before
    /// it (denied, retry_after 1), then a retry at retry_after.
    func slidingBoundaries(_ h: ScriptHarness, _ rng: inout SeededGenerator, seed: UInt64, cases: Int) throws {
        for c in 0..<cases {
            let previous = [1_000_000_000, rng.int(1...1_000_000_000), rng.int(1...1000)][Int(rng.int(0...2))]
            let limit = rng.chance(0.5) ? 1_000_000_000 : rng.int(previous...1_000_000_000)
            let q = rng.int(max(1, (1000 + previous - 1) / previous)...(maxPeriodMicroseconds / previous))
            let period = previous * q  // so that previous divides spare·period
            let l = ScriptLimits(code: ScriptLimits.sliding, limit: limit, period: period, burst: limit)
            let key = "sluice:{b\(seed)}:\(c)"
            let window = rng.int(1...(maxMicroseconds / period - 2))
            try h.step([ScriptItem(key: key, limits: l, cost: previous)], commit: true, now: (window - 1) * period + rng.int(0...(period - 1)))
            let current = rng.chance(0.5) ? rng.int(0...(limit - previous)) : 0
            let spare = rng.int(0...min(previous, limit - current))
            let cost = limit - current - spare
            let elapsed = period - spare * q  // previous·(period − elapsed) = spare·period
            if current > 0 { try h.step([ScriptItem(key: key, limits: l, cost: current)], commit: true, now: window * period) }
            for e in Set([max(elapsed - 1, 0), elapsed]).sorted() {
                let item = ScriptItem(key: key, limits: l, cost: cost)
                let (now, answers) = try h.step([item], commit: rng.chance(0.5), now: window * period + e)
                if let d = answers.first, !d.allowed, d.retryAfter < maxMicroseconds {
                    try h.step([item], commit: false, now: now + d.retryAfter)
                }
            }
        }
    }

    /// Checks and reports (charges, refunds, debt at its cap, retried ids) on one key: every
    /// reply number and the stored value as `Algorithms.report` says.
    func reports(_ h: ScriptHarness, _ rng: inout SeededGenerator, seed: UInt64, steps: Int) throws {
        let l = randomLimits(&rng)
        let key = "sluice:{report}:\(seed)"
        var state: KeyState?
        var seen: Set<String> = []
        var lastID: String?
        var now = rng.int(0...1_000_000_000_000_000)
        for step in 0..<steps {
            now += [0, 1, rng.int(0...l.period), rng.int(0...(2 * l.period))][Int(rng.int(0...3))]
            let context = "report trace seed \(seed) step \(step): \(l) now \(now) state \(String(describing: state))"
            if rng.chance(0.3) {
                let cost = rng.int(0...(try l.core().capacity))
                let s = try ReferenceStore.step(state, now: now, cost: cost, l)
                let got = try h.client.callOK(h.evalsha(l.script, ScriptHarness.singleArguments(key, l, cost: cost, commit: true, now: String(now))))
                let want = ScriptAnswer(s.decision).numbers + [now]
                guard got.values?.compactMap(\.int) == want else { throw ScriptMismatch(description: "\(context): check cost \(cost): \(got) vs \(want)") }
                if s.decision.allowed, cost > 0 { state = s.next }
            } else {
                let capacity = try l.core().capacity
                let cost = max(-Limits.maxLimit, min([rng.int(-2 * capacity...2 * capacity), rng.int(-10...10), Limits.maxLimit, -Limits.maxLimit][Int(rng.int(0...3))], Limits.maxLimit))
                let id = lastID != nil && rng.chance(0.3) ? lastID : rng.chance(0.5) ? nil : "id-\(seed)-\(step)"
                let duplicate = id.map { seen.contains($0) } ?? false
                let r = Algorithms.report(state, now: now * 1000, cost: duplicate ? 0 : cost, limits: try l.core())
                let want = [duplicate ? 1 : 0, r.report.remaining, ScriptAnswer.us(r.report.resetAfter), ScriptAnswer.us(r.report.retryAfter), r.report.debt, now]
                let keys = id.map { ["2", key, "\(key):report:\($0)"] } ?? ["1", key]
                let got = try h.client.callOK(h.evalsha("report", keys + [String(l.code)] + l.arguments + [String(cost), String(now), "600000"]))
                guard got.values?.compactMap(\.int) == want else { throw ScriptMismatch(description: "\(context): report \(cost) id \(id ?? "-"): \(got) vs \(want)") }
                if !duplicate, cost != 0 { state = r.next }
                h.coverage.add("report debt", r.report.debt > 0)
                h.coverage.add("report duplicate", duplicate)
                h.coverage.add("report refund", cost < 0 && !duplicate)
                if let id {
                    seen.insert(id)
                    lastID = id
                }
            }
            let value = try h.client.callOK(["GET", key]).bytes.map { StoredState.decode($0) ?? [-1] }
            let want = state.map { StoredState.fields($0, l) }
            guard value == want else { throw ScriptMismatch(description: "\(context): stored \(value as Any), expected \(want as Any)") }
        }
    }

    /// Writes on Redis's clock whose reset_after is around the 1 s TTL floor (999 ms plus the
    /// 1 ms for the clock's rounding) and around whole ms: PX must be exactly what it should.
    func ttlEdges(_ h: ScriptHarness) throws {
        for (i, period) in [998_999, 999_000, 999_001, 999_999, 1_000_000, 1_000_001, 1_001_000, 5_000].enumerated() {
            for code in [ScriptLimits.token, ScriptLimits.leaky, ScriptLimits.fixed] {
                let l = ScriptLimits(code: code, limit: 1, period: Int64(period), burst: 1)  // reset_after = period (buckets), <= period (fixed)
                try h.step([ScriptItem(key: "sluice:{ttl}:\(code):\(i)", limits: l, cost: 1)], commit: true, now: nil)
            }
        }
    }
}

// MARK: random inputs

func randomLimits(_ rng: inout SeededGenerator) -> ScriptLimits {
    let code = Int(rng.int(1...4))
    let max = Limits.maxLimit
    let limit = [rng.int(1...5), rng.int(1...100), rng.int(1...max), max, max - rng.int(1...9), 1][Int(rng.int(0...5))]
    let period = [
        1000, maxPeriodMicroseconds, 1000 * rng.int(1...5000), 60_000_000, 86_400_000_000, 1000 * rng.int(1...(maxPeriodMicroseconds / 1000)),
        rng.int(1000...maxPeriodMicroseconds), rng.int(1000...10_000_000), maxPeriodMicroseconds - rng.int(0...1_000_000),
    ][Int(rng.int(0...8))]
    let burst: Int64 = switch code {
    case ScriptLimits.token: [limit, 1, rng.int(1...20), rng.int(1...max), max][Int(rng.int(0...4))]
    case ScriptLimits.leaky: [0, 1, rng.int(0...20), rng.int(0...max), max][Int(rng.int(0...4))]
    default: limit  // the windows' burst is their limit
    }
    return ScriptLimits(code: code, limit: limit, period: period, burst: burst)
}

func randomCost(_ rng: inout SeededGenerator, _ l: ScriptLimits) -> Int64 {
    let capacity = l.code == ScriptLimits.token ? l.burst : l.code == ScriptLimits.leaky ? max(l.burst, 1) : l.limit
    return [0, 1, 1, capacity, rng.int(0...capacity), rng.int(0...min(capacity, 10)), max(capacity - rng.int(0...3), 0)][Int(rng.int(0...6))]
}

func randomGap(_ rng: inout SeededGenerator, _ l: ScriptLimits, now: Int64) -> Int64 {
    let unit = max(l.period / l.limit, 1)  // one emission interval, roughly
    // A simple fraction a/b into a later window: exact quotients are where rounding would show.
    let b = rng.int(1...12)
    let aligned = (now / l.period + rng.int(1...2)) * l.period + l.period / b * rng.int(0...(b - 1)) - now
    return [
        0, 0, 1, rng.int(0...unit), rng.int(0...(3 * unit)), rng.int(0...l.period), l.period, rng.int(0...(3 * l.period)), rng.int(0...1_000_000),
        -rng.int(0...1000), aligned, aligned,
    ][Int(rng.int(0...11))]
}

extension SeededGenerator {
    mutating func int(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &self) }
    mutating func wide(_ range: ClosedRange<Int128>) -> Int128 { Int128.random(in: range, using: &self) }
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    /// `edge` ± up to `spread`.
    mutating func near(_ edge: Int128, _ spread: Int128 = 2) -> Int128 { edge + wide(-spread...spread) }
}
