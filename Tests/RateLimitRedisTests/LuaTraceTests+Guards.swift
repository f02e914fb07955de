import RateLimitCore
import RateLimitTestSupport

extension LuaTraceTests {
    /// Arguments and states on both sides of the scripts' fast-path guards (see `guardSides`),
    /// and exactly on them: burst·period, (burst + cost)·period, the stored TAT's a and the wait
    /// w around 2^53, a new TAT whose a passes 2^53, and the sliding window's products around
    /// 2^53. The states are injected (as if written by an earlier call), then decided, peeked at
    /// and decided again.
    func guardBoundaries(_ h: ScriptHarness, _ rng: inout SeededGenerator, seed: UInt64, cases: Int) throws {
        for c in 0..<cases {
            let key = "sluice:{g\(seed)}:\(c)"
            let kind = rng.int(0...3)  // token, leaky, sliding, a new TAT around 2^53
            // Powers of two: then a w just past 2^53, rounded, would show in ⌈w/limit⌉.
            var limit = [1, Limits.maxLimit, rng.int(1...1000), rng.int(1...Limits.maxLimit), 1 << rng.int(1...29)][Int(rng.int(0...4))]
            if kind == 2 {
                try slidingGuardCase(h, &rng, key: key, limit: limit)
                continue
            }
            if kind == 3 {
                try newTATEdgeCase(h, &rng, key: key)
                continue
            }
            let code = kind == 0 ? ScriptLimits.token : ScriptLimits.leaky
            // A period whose product with some burst (+ cost) <= 1e9 lands near 2^53: 2^k lands
            // on 2^53 exactly, and the divisors of 2^53 − 1 = 6361·69431·20394401 on 2^53 − 1.
            let divisors: [Int64] = [20_394_401, 6361 * 20_394_401, 69431 * 20_394_401]
            let period = [
                1 << rng.int(24...44), rng.int((Int64(two53) + Limits.maxLimit - 1) / Limits.maxLimit...maxPeriodMicroseconds),
                divisors[Int(rng.int(0...2))], rng.int(1000...10_000_000),
            ][Int(rng.int(0...3))]
            let units = min(max(Int64(rng.near(two53 / Int128(period), 1)), 0), Limits.maxLimit)  // burst (+ cost): the product near 2^53
            let burst: Int64, cost: Int64
            if code == ScriptLimits.token {
                burst = max(units, 1)
                cost = [burst, 1, 0, rng.int(0...burst), min(burst + rng.int(1...3), Limits.maxLimit)][Int(rng.int(0...4))]
            } else {
                burst = rng.int(0...units)
                cost = min(units - burst, Limits.maxLimit)
            }
            var l = ScriptLimits(code: code, limit: limit, period: period, burst: burst)
            let now = [rng.int(0...1_000_000), try h.redisNow(), maxMicroseconds - rng.int(0...10_000_000), maxMicroseconds][Int(rng.int(0...3))]
            let tol = Int128(burst) * Int128(period)
            let inc = Int128(cost) * Int128(period)
            // The wait w = tat − now·limit: none, small, around the allowing edge, around 2^53,
            // far above. (w − slack = w + cost·period − tol, the denied retry's numerator, near 2^53 too.)
            var w: Int128? = [
                nil, 0, rng.wide(0...max(tol, 1)), rng.near(tol - inc), rng.near(tol), rng.near(two53), rng.near(two53 - 1),
                rng.near(two53 - inc + tol, 4), rng.wide(two53...(1 << 56)), rng.wide(two53...(1 << 80)),
            ][Int(rng.int(0...9))]
            if cost > burst, rng.chance(0.5) {
                // A token cost over the burst (always denied) whose retry numerator lies just
                // past 2^53, odd, over a power-of-two limit: where a rounding would show.
                limit = [1, 2, 1 << rng.int(2...29)][Int(rng.int(0...2))]
                l.limit = limit
                w = two53 - inc + tol + [1, 3, 5][Int(rng.int(0...2))]
            }
            let scaledNow = Int128(now) * Int128(limit)
            if rng.chance(0.15) {  // a stored a right at 2^53 (a TAT ~285 years ahead)
                try h.inject(key, l, StoredState.bucket(tat: rng.near(two53 - 1) * Int128(limit) + rng.wide(0...Int128(limit - 1))))
            } else if let w {
                try h.inject(key, l, StoredState.bucket(tat: scaledNow + max(w, -scaledNow)))
            }
            try h.step([ScriptItem(key: key, limits: l, cost: cost)], commit: rng.chance(0.8), now: now)
            try h.step([ScriptItem(key: key, limits: l, cost: 0)], commit: false, now: now)
            let later = min(now + [0, 1, period][Int(rng.int(0...2))], maxMicroseconds)
            try h.step([ScriptItem(key: key, limits: l, cost: cost)], commit: true, now: later)
            if rng.chance(0.2) {  // the same key under a burst one off: a new key (the stored limits guard)
                l.burst += l.burst < Limits.maxLimit ? 1 : -1
                try h.step([ScriptItem(key: key, limits: l, cost: 0)], commit: false, now: now)
            }
        }
    }

    /// A bucket's new TAT whose a = now + ⌊e/limit⌋ lies around 2^53 (now close to it).
    func newTATEdgeCase(_ h: ScriptHarness, _ rng: inout SeededGenerator, key: String) throws {
        let code = rng.chance(0.5) ? ScriptLimits.token : ScriptLimits.leaky
        let l = ScriptLimits(code: code, limit: [1, 7, 1000][Int(rng.int(0...2))], period: 4_000_000, burst: Limits.maxLimit)  // tol = 4e15 < 2^53
        let now = maxMicroseconds - [rng.int(0...10), rng.int(0...1_000_000), rng.int(0...1_000_000_000_000)][Int(rng.int(0...2))]
        let q = max(two53 - Int128(now) + rng.wide(-2...2), 0)  // the new a = now + q
        var cost = rng.int(0...3)
        let e = q * Int128(l.limit) + rng.wide(0...Int128(l.limit - 1))  // the new TAT is now·limit + e
        if e < Int128(cost * l.period) { cost = 0 }
        try h.inject(key, l, StoredState.bucket(tat: Int128(now) * Int128(l.limit) + e - Int128(cost * l.period)))
        try h.step([ScriptItem(key: key, limits: l, cost: cost)], commit: true, now: now)
    }

    /// previous·elapsed around 2^53 (the carried count), and spare·period around 2^53 (retry_after).
    func slidingGuardCase(_ h: ScriptHarness, _ rng: inout SeededGenerator, key: String, limit: Int64) throws {
        let smallest = Int64((two53 + Int128(maxPeriodMicroseconds - 3)) / Int128(maxPeriodMicroseconds - 2))  // elapsed = 2^53/previous fits in a period
        let limit = max(limit, rng.int(smallest...Limits.maxLimit))
        let previous = rng.chance(0.5) ? limit : rng.int(smallest...limit)
        let elapsed = Int64(rng.near(two53 / Int128(previous), 1))
        let period = rng.int(max(elapsed + 1, 1000)...maxPeriodMicroseconds)
        let l = ScriptLimits(code: ScriptLimits.sliding, limit: limit, period: period, burst: limit)
        let window = rng.int(1...((maxMicroseconds - elapsed) / period))
        let now = window * period + elapsed
        let current = rng.chance(0.5) ? rng.int(0...(limit - previous)) : 0
        var state = current > 0
            ? StoredState.window(window, current: current, previous: previous) : StoredState.window(window - 1, current: previous, previous: 0)
        if current == 0, rng.chance(0.5) { state = StoredState.window(window - 1, current: previous, previous: rng.int(0...limit)) }
        try h.inject(key, l, state)
        // spare = limit − current − cost with spare·period near 2^53, or a random cost.
        let spare = Int64(rng.near(two53 / Int128(period), 1))
        let cost = (0...limit).contains(limit - current - spare) ? limit - current - spare : rng.int(0...limit)
        try h.step([ScriptItem(key: key, limits: l, cost: cost)], commit: rng.chance(0.8), now: now)
        try h.step([ScriptItem(key: key, limits: l, cost: rng.int(0...limit))], commit: false, now: now)
    }
}
