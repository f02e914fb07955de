/// The key's state after a report (`POST /v1/report`): usage that already happened, recorded
/// without a decision.
public struct Report: Sendable, Hashable {
    /// The limits' limit per period (the override's, for an overridden key).
    public var limit: Int64
    /// The period of `limit`.
    public var period: Nanoseconds
    /// Whole units a check could be granted now (0 in debt).
    public var remaining: Int64
    /// Time until the key is back to a fresh state.
    public var resetAfter: Nanoseconds
    /// Time until a check of cost 1 would be allowed (0 if it would be now).
    public var retryAfter: Nanoseconds
    /// Units used beyond what checks alone can reach; repaid at the rule's rate (windows: see
    /// `Algorithms.report`). Checks are denied while it is above 0.
    public var debt: Int64
    /// The report's `id` was seen within the idempotency window: nothing was recorded again.
    public var duplicate: Bool
    /// Which store answered.
    public var store: DecisionStore = .memory

    public init(
        limit: Int64, period: Nanoseconds, remaining: Int64, resetAfter: Nanoseconds, retryAfter: Nanoseconds, debt: Int64,
        duplicate: Bool = false
    ) {
        self.limit = limit
        self.period = period
        self.remaining = remaining
        self.resetAfter = resetAfter
        self.retryAfter = retryAfter
        self.debt = debt
        self.duplicate = duplicate
    }
}

/// The outcome of one report step: the answer and the state to store.
public struct ReportStep: Sendable, Hashable {
    public var report: Report
    /// The key's state after the report; nil when it equals a new key's (nothing to keep).
    public var next: KeyState?
}

extension Algorithms {
    /// Largest debt a report may create, as a multiple of the limits' capacity: a report that
    /// would go further records up to there (usage beyond it is dropped), so every count stays
    /// below 2 × `Limits.maxLimit` and the sliding window's 32-bit halves never overflow.
    public static let maxDebtCapacities: Int64 = 1

    /// Records `cost` units that were already used (negative: a refund), with no decision.
    ///
    /// Debt is usage past what checks alone can reach; while it is above 0 every check is denied.
    /// - token bucket: the TAT moves past the horizon (now + burst intervals); debt is repaid at
    ///   the refill rate, exactly as the bucket refills.
    /// - leaky bucket: the queue grows past burst + capacity intervals; it drains at the rate.
    /// - fixed window: the count may exceed the limit until the window ends; the next window
    ///   starts clean (debt is not carried: the fixed window's usual trade-off).
    /// - sliding window: the current count may exceed the limit; its weight carries a share of it
    ///   into the next window, so debt fades over up to two periods.
    ///
    /// A refund never goes above a fresh key's quota: buckets stop at the full bucket, windows at
    /// a count of 0 (a sliding window refunds only the current window's count). `cost` must be
    /// within ±`Limits.maxLimit`.
    public static func report(_ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits) -> ReportStep {
        let next: KeyState
        let debt: Int64
        switch limits.algorithm {
        case .tokenBucket:
            (next, debt) = gcraReport(state, now: now, cost: cost, limits: limits, reach: limits.burst)
        case .leakyBucket:
            (next, debt) = gcraReport(state, now: now, cost: cost, limits: limits, reach: limits.burst + limits.capacity)
        case .fixedWindow:
            let window = floorDiv(now, limits.period)
            let count = state.map { $0.high == window ? $0.low : 0 } ?? 0
            let used = adjusted(count, by: cost, ceiling: (1 + maxDebtCapacities) * limits.limit)
            (next, debt) = (KeyState(high: window, low: used), max(used - limits.limit, 0))
        case .slidingWindow:
            let period = limits.period
            let window = floorDiv(now, period)
            let elapsed = now - window * period
            let (current, previous) = slidingCounts(state, window: window)
            // ⌈previous·(period − elapsed)/period⌉ = previous − ⌊previous·elapsed/period⌋: the
            // previous window's weight in whole units (see Lua/sliding_window.lua).
            let carried = previous - Wide.floorDiv(Int128(previous) * Int128(elapsed), period)
            let used = adjusted(current, by: cost, ceiling: (1 + maxDebtCapacities) * limits.limit - carried)
            (next, debt) = (KeyState(high: window, low: used << 32 | previous), max(used + carried - limits.limit, 0))
        case .concurrency:
            (next, debt) = (state ?? KeyState(high: 0, low: 0), 0)  // refused by `prepare(report:)`: leases are released
        }
        let status = step(next, now: now, cost: 0, limits: limits).decision
        let one = step(next, now: now, cost: 1, limits: limits).decision
        return ReportStep(
            report: Report(
                limit: limits.limit, period: limits.period, remaining: status.remaining, resetAfter: status.resetAfter,
                retryAfter: one.allowed ? 0 : one.retryAfter, debt: debt),
            next: status.resetAfter == 0 ? nil : next)
    }

    /// `count + cost`, at least 0, and for a charge at most `ceiling` (or `count`, when it is
    /// already above: a clamp never lowers usage).
    private static func adjusted(_ count: Int64, by cost: Int64, ceiling: Int64) -> Int64 {
        cost >= 0 ? min(count + cost, max(count, ceiling)) : max(count + cost, 0)
    }

    /// The buckets: the TAT moves by cost intervals, never below now (a full bucket or an empty
    /// queue) and, for a charge, never above `reach` + `maxDebtCapacities` × capacity intervals.
    /// Debt is how far the TAT is past `reach` intervals, in whole units rounded up.
    private static func gcraReport(
        _ state: KeyState?, now: Nanoseconds, cost: Int64, limits: Limits, reach: Int64
    ) -> (KeyState, Int64) {
        let interval = Int128(limits.period)
        let nowScaled = Int128(now) * Int128(limits.limit)
        let tat = max(state?.wide ?? nowScaled, nowScaled)
        let horizon = nowScaled + Int128(reach) * interval
        var newTat = tat + Int128(cost) * interval
        if cost >= 0 {
            newTat = min(newTat, max(tat, horizon + Int128(maxDebtCapacities * limits.capacity) * interval))
        } else {
            newTat = max(newTat, nowScaled)
        }
        return (KeyState(wide: newTat), Wide.ceilDiv(newTat - horizon, limits.period))
    }
}
