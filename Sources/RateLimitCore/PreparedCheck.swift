/// A validated check, ready for a store that decides elsewhere (Redis): the memory path does not
/// need it. `RateLimiter.prepare` makes one; `RateLimiter.finish` turns the store's raw answer
/// into the final decision (shadow, unlimited) and records it.
public struct PreparedCheck: Sendable {
    public let rule: String
    public let key: String
    /// What the store must decide; nil when the key is `unlimited` (no store is consulted).
    public let item: StoreItem?
    /// The key's hash, computed once when the check was validated.
    let keyHash: UInt64
    let installed: RateLimiter.Installed

    /// The answer for an unlimited key.
    var unlimitedDecision: Decision {
        let limits = installed.rule.limits
        var decision = Decision(allowed: true, limit: limits.limit, period: limits.period, remaining: limits.limit)
        decision.store = .none
        return decision
    }
}

extension RateLimiter {
    /// Validates one check (rule, key, cost) without deciding it.
    public func prepare(_ request: CheckRequest) throws(CheckError) -> PreparedCheck {
        let resolved = try validate(request)
        let installed = resolved.installed
        var item: StoreItem?
        if case .limited(let limits) = resolved.policy {
            item = StoreItem(
                slot: installed.slot, key: request.key, keyHash: resolved.keyHash, limits: limits, cost: request.cost,
                shadow: installed.rule.shadow)
        }
        return PreparedCheck(rule: request.rule, key: request.key, item: item, keyHash: resolved.keyHash, installed: installed)
    }

    /// Validates a batch without deciding it.
    public func prepare(batch: [CheckRequest]) throws(CheckError) -> [PreparedCheck] {
        if batch.isEmpty { throw .emptyBatch }
        if batch.count > Self.maxBatch { throw .batchTooLarge(batch.count) }
        var prepared: [PreparedCheck] = []
        prepared.reserveCapacity(batch.count)
        for request in batch { prepared.append(try prepare(request)) }
        return prepared
    }

    /// The final decision for `check` given the store's answer (nil for an unlimited key);
    /// records it when `commit` is true.
    public func finish(_ check: PreparedCheck, stored: Decision?, commit: Bool) -> Decision {
        var decision = stored ?? check.unlimitedDecision
        Self.settle(&decision, shadow: check.installed.rule.shadow)
        Self.record(decision, verdict: decision.allowed, commit: commit, check.installed.recorder, check.key, check.keyHash, clock.now)
        return decision
    }

    /// The final batch decision given the store's answer for the checks that have an `item`
    /// (in order); records every check when `commit` is true.
    public func finish(batch checks: [PreparedCheck], stored: BatchDecision, commit: Bool) -> BatchDecision {
        var decisions: [Decision] = []
        decisions.reserveCapacity(checks.count)
        var next = stored.decisions.makeIterator()
        for check in checks {
            var decision = check.item == nil ? check.unlimitedDecision : (next.next() ?? check.unlimitedDecision)
            Self.settle(&decision, shadow: check.installed.rule.shadow)
            decisions.append(decision)
        }
        let now = clock.now
        for (check, decision) in zip(checks, decisions) {
            Self.record(decision, verdict: stored.allowed, commit: commit, check.installed.recorder, check.key, check.keyHash, now)
        }
        return BatchDecision(allowed: stored.allowed, decisions: decisions)
    }
}
