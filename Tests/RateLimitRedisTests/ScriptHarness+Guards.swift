import RateLimitCore

extension ScriptHarness {
    /// For one single-key decision: which side of each of the scripts' fast-path guards it lies
    /// on, as coverage names ("bucket w < 2^53", and "bucket w = 2^53 - 1" exactly on an edge).
    /// The scripts compute in plain numbers only while these values are below 2^53, and take the
    /// exact (bignum) path otherwise; the names follow their guards in order (Lua/*.lua).
    static func guardSides(_ l: ScriptLimits, _ state: KeyState?, now: Int64, cost: Int64) throws -> [String] {
        var names: [String] = []
        func side(_ name: String, _ value: Int128) -> Bool {
            names.append("\(name) \(value < two53 ? "< 2^53" : ">= 2^53")")
            if value == two53 - 1 || value == two53 { names.append("\(name) = 2^53\(value < two53 ? " - 1" : "")") }
            return value < two53
        }
        let (limit, period) = (Int128(l.limit), Int128(l.period))
        switch l.code {
        case ScriptLimits.token, ScriptLimits.leaky:
            var fast = l.code == ScriptLimits.token
                ? cost <= l.burst && side("token burst·period", Int128(l.burst) * period)
                : side("leaky (burst + cost)·period", Int128(l.burst + cost) * period)
            if fast, let state {
                let a = StoredState.tat(state) / limit
                fast = side("bucket stored a", a)
                if fast, a >= now { fast = side("bucket w", StoredState.tat(state) - Int128(now) * limit) }
            }
            let s = try ReferenceStore.step(state, now: now, cost: cost, l)
            if fast, s.decision.allowed, cost > 0 {  // the new TAT's a = now + ⌊e/limit⌋ may pass 2^53 on the fast path too
                _ = side("bucket new a on the fast path", StoredState.tat(s.next) / limit)
            }
        case ScriptLimits.sliding:
            let window = now / l.period
            let elapsed = Int128(now - window * l.period)
            var (current, previous): (Int64, Int64) = (0, 0)
            if let state, state.high == window { (current, previous) = (state.low >> 32, state.low & 0xFFFF_FFFF) }
            if let state, state.high == window - 1 { previous = state.low >> 32 }
            if previous > 0 { _ = side("sliding previous·elapsed", Int128(previous) * elapsed) }
            if try !ReferenceStore.step(state, now: now, cost: cost, l).decision.allowed {
                let spare = l.limit - current - cost
                if spare >= 0, previous > 0 { _ = side("sliding spare·period", Int128(spare) * period) }
                if current > 0, l.limit > cost { _ = side("sliding (limit - cost)·period", Int128(l.limit - cost) * period) }
            }
        default:
            break
        }
        return names
    }
}
