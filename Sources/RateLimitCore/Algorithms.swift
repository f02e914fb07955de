/// The outcome of one algorithm step: the decision and the state to store if it is committed.
public struct Step: Sendable, Hashable {
    public var decision: Decision
    /// The key's state after consuming the cost (meaningful only when allowed).
    public var next: KeyState
}

/// The four algorithms as pure functions of (state, now, cost, limits).
///
/// `cost` is already validated: 0 ≤ cost ≤ limits.capacity. Cost 0 is a peek: always allowed,
/// nothing consumed. No floating point: all arithmetic is exact integer arithmetic.
public enum Algorithms {
    /// Decides one request. `state` nil means a new key.
    public static func step(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> Step {
        switch limits.algorithm {
        case .tokenBucket: tokenBucket(state, now: now, cost: cost, limits: limits)
        case .leakyBucket: leakyBucket(state, now: now, cost: cost, limits: limits)
        case .fixedWindow: fixedWindow(state, now: now, cost: cost, limits: limits)
        case .slidingWindow: slidingWindow(state, now: now, cost: cost, limits: limits)
        case .concurrency: noLeases(state, now: now, cost: cost, limits: limits)
        }
    }

    /// An item's answer in a batch that was denied, so consumed nothing: its own verdict for
    /// `cost`, with `remaining` and `resetAfter` of the state as it is (what `cost` 0 reports),
    /// and no delay, since nothing was queued (issue 15).
    public static func unconsumed(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> Decision {
        var decision = step(state, now: now, cost: cost, limits: limits).decision
        let now = step(state, now: now, cost: 0, limits: limits).decision
        decision.remaining = now.remaining
        decision.resetAfter = now.resetAfter
        decision.delay = 0
        if decision.allowed { decision.retryAfter = 0 }
        return decision
    }

    /// True when `state` is equivalent to a new key at `now` (safe to evict).
    public static func isIdle(_ state: KeyState, now: Nanoseconds, limits: Limits) -> Bool {
        switch limits.algorithm {
        case .concurrency:
            return true  // leases live in a `LeaseSet`, never in a `KeyState`
        case .tokenBucket, .leakyBucket:
            return state.wide <= Int128(now) * Int128(limits.limit)
        case .fixedWindow:
            return state.high < floorDiv(now, limits.period)
        case .slidingWindow:
            return state.high < floorDiv(now, limits.period) - 1
        }
    }

    // MARK: token bucket (GCRA)

    /// GCRA in units of 1/limit ns: emission interval = period, tolerance = burst × period.
    /// Allowed iff max(tat, now) + cost·T ≤ now + burst·T — exactly "tokens(now) ≥ cost".
    static func tokenBucket(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> Step {
        let scale = limits.limit
        let interval = Int128(limits.period)
        let nowScaled = Int128(now) * Int128(scale)
        let tat = max(state?.wide ?? nowScaled, nowScaled)
        let horizon = nowScaled + Int128(limits.burst) * interval
        let newTat = tat + Int128(cost) * interval
        if newTat <= horizon {
            return Step(
                decision: Decision(
                    allowed: true, limit: limits.limit, period: limits.period,
                    remaining: Wide.floorDiv(horizon - newTat, limits.period),
                    resetAfter: Wide.ceilDiv(newTat - nowScaled, scale)
                ),
                next: KeyState(wide: newTat)
            )
        }
        return Step(
            decision: Decision(
                allowed: false, limit: limits.limit, period: limits.period,
                remaining: Wide.floorDiv(horizon - tat, limits.period),
                resetAfter: Wide.ceilDiv(tat - nowScaled, scale),
                retryAfter: Wide.ceilDiv(newTat - horizon, scale)
            ),
            next: KeyState(wide: tat)
        )
    }

    // MARK: leaky bucket (shaping)

    /// Like nginx `limit_req` without `nodelay`: requests leave the queue one emission interval
    /// apart; a request whose wait would exceed `burst` intervals is denied.
    static func leakyBucket(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> Step {
        let scale = limits.limit
        let interval = Int128(limits.period)
        let nowScaled = Int128(now) * Int128(scale)
        let tat = max(state?.wide ?? nowScaled, nowScaled)
        let wait = tat - nowScaled
        let tolerance = Int128(limits.burst) * interval
        // How many unit requests could still be queued after the queue drains to `end`.
        func room(after end: Int128) -> Int64 {
            let used = end - nowScaled
            return used <= tolerance ? Wide.floorDiv(tolerance - used, limits.period) + 1 : 0
        }
        if cost == 0 {
            return Step(
                decision: Decision(
                    allowed: true, limit: limits.limit, period: limits.period, remaining: room(after: tat),
                    resetAfter: Wide.ceilDiv(wait, scale)
                ),
                next: KeyState(wide: tat)
            )
        }
        if wait <= tolerance {
            let newTat = tat + Int128(cost) * interval
            return Step(
                decision: Decision(
                    allowed: true, limit: limits.limit, period: limits.period, remaining: room(after: newTat),
                    resetAfter: Wide.ceilDiv(newTat - nowScaled, scale),
                    delay: Wide.ceilDiv(wait, scale)
                ),
                next: KeyState(wide: newTat)
            )
        }
        return Step(
            decision: Decision(
                allowed: false, limit: limits.limit, period: limits.period, remaining: 0,
                resetAfter: Wide.ceilDiv(wait, scale),
                retryAfter: Wide.ceilDiv(wait - tolerance, scale)
            ),
            next: KeyState(wide: tat)
        )
    }

    // MARK: fixed window

    static func fixedWindow(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> Step {
        let window = floorDiv(now, limits.period)
        let count = state.map { $0.high == window ? $0.low : 0 } ?? 0
        let windowEnd = (window + 1) * limits.period - now
        let used = count + cost
        if used <= limits.limit {
            return Step(
                decision: Decision(
                    allowed: true, limit: limits.limit, period: limits.period, remaining: limits.limit - used,
                    resetAfter: used > 0 ? windowEnd : 0
                ),
                next: KeyState(high: window, low: used)
            )
        }
        return Step(
            decision: Decision(
                // A report may have put the count past the limit (debt): remaining is then 0.
                allowed: false, limit: limits.limit, period: limits.period, remaining: max(limits.limit - count, 0),
                resetAfter: windowEnd, retryAfter: windowEnd
            ),
            next: KeyState(high: window, low: count)
        )
    }

    // MARK: sliding window

    /// Weighted estimate: previous × (period − elapsed)/period + current, compared exactly as
    /// previous·(period − elapsed) + (current + cost)·period ≤ limit·period.
    static func slidingWindow(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> Step {
        let period = limits.period
        let window = floorDiv(now, period)
        let elapsed = now - window * period
        let (current, previous) = slidingCounts(state, window: window)
        let budget = Int128(limits.limit) * Int128(period)
        let carried = Int128(previous) * Int128(period - elapsed)
        func remaining(_ current: Int64) -> Int64 {
            Wide.floorDiv(budget - carried - Int128(current) * Int128(period), period)
        }
        func resetAfter(_ current: Int64) -> Nanoseconds {
            if current > 0 { return 2 * period - elapsed }
            return previous > 0 ? period - elapsed : 0
        }
        let used = current + cost
        if carried + Int128(used) * Int128(period) <= budget {
            return Step(
                decision: Decision(
                    allowed: true, limit: limits.limit, period: limits.period, remaining: remaining(used),
                    resetAfter: resetAfter(used)
                ),
                next: KeyState(high: window, low: used << 32 | previous)
            )
        }
        return Step(
            decision: Decision(
                allowed: false, limit: limits.limit, period: limits.period, remaining: remaining(current),
                resetAfter: resetAfter(current),
                retryAfter: slidingRetryAfter(
                    current: current, previous: previous, elapsed: elapsed, cost: cost, limits: limits)
            ),
            next: KeyState(high: window, low: current << 32 | previous)
        )
    }

    /// The current and previous windows' counts of a sliding-window state, seen from `window`.
    static func slidingCounts(_ state: KeyState?, window: Int64) -> (current: Int64, previous: Int64) {
        guard let state else { return (0, 0) }
        if state.high == window { return (state.low >> 32, state.low & 0xFFFF_FFFF) }
        return (0, state.high == window - 1 ? state.low >> 32 : 0)
    }

    /// Time until previous·(period − e) + (current + cost)·period ≤ limit·period holds,
    /// first later in this window, else in the next one (where current becomes previous).
    static func slidingRetryAfter(
        current: Int64, previous: Int64, elapsed: Nanoseconds, cost: Int64, limits: Limits
    ) -> Nanoseconds {
        let period = limits.period
        let spare = limits.limit - current - cost
        if spare >= 0, previous > 0 {
            // e ≥ period − ⌊spare·period / previous⌋
            let needed = period - Wide.floorDiv(Int128(spare) * Int128(period), previous)
            if needed < period { return needed - elapsed }
        }
        // In the next window: current·(period − e) + cost·period ≤ limit·period.
        let toNext = period - elapsed
        if current == 0 { return toNext }
        let needed = period - Wide.floorDiv(Int128(limits.limit - cost) * Int128(period), current)
        return toNext + max(needed, 0)
    }

    /// ⌊a / b⌋ for b > 0 (rounds toward −∞, so windows align for instants before the epoch too).
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && a < 0) ? q - 1 : q
    }
}
