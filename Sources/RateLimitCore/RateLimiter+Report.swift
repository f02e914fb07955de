/// A validated report, ready for a store: `RateLimiter.prepare(report:)` makes one.
public struct PreparedReport: Sendable {
    public let rule: String
    public let key: String
    /// What the store must record (its `cost` may be negative); nil for an `unlimited` key.
    public let item: StoreItem?
    public let id: String?
    let installed: RateLimiter.Installed

    /// The answer for an unlimited key: nothing is tracked.
    var unlimitedReport: Report {
        let limits = installed.rule.limits
        var report = Report(limit: limits.limit, period: limits.period, remaining: limits.limit, resetAfter: 0, retryAfter: 0, debt: 0)
        report.store = .none
        return report
    }
}

extension RateLimiter {
    /// Validates a report: a known rule, a valid key, a cost within ±`Limits.maxLimit`
    /// (the rule's capacity does not bound it: debt is capped instead) and a valid `id`.
    public func prepare(report request: ReportRequest) throws(CheckError) -> PreparedReport {
        guard (-Limits.maxLimit...Limits.maxLimit).contains(request.cost) else { throw .reportCostOutOfRange(request.cost) }
        if let id = request.id {
            let scan = KeyScan(id)
            guard scan.count > 0, scan.count <= ReportRequest.maxIDBytes, !scan.hasControl else { throw .badReportID }
        }
        let resolved = try validate(CheckRequest(rule: request.rule, key: request.key, cost: 0))
        if resolved.installed.limits.algorithm == .concurrency { throw .reportOnConcurrency(request.rule) }
        var item: StoreItem?
        if case .limited(let limits) = resolved.policy {
            item = StoreItem(
                slot: resolved.installed.slot, key: request.key, keyHash: resolved.keyHash, limits: limits, cost: request.cost)
        }
        return PreparedReport(rule: request.rule, key: request.key, item: item, id: request.id, installed: resolved.installed)
    }

    /// Validates several reports (all or none: a bad one refuses the lot).
    public func prepare(reports: [ReportRequest]) throws(CheckError) -> [PreparedReport] {
        if reports.isEmpty { throw .emptyReports }
        if reports.count > Self.maxBatch { throw .tooManyReports(reports.count) }
        var prepared: [PreparedReport] = []
        prepared.reserveCapacity(reports.count)
        for request in reports { prepared.append(try prepare(report: request)) }
        return prepared
    }

    /// Records reports in the memory store, in order; each one on its own (a report is not a
    /// decision: none refuses another).
    public func report(_ requests: [ReportRequest]) throws(CheckError) -> [Report] {
        let prepared = try prepare(reports: requests)
        return prepared.map { check in
            guard let item = check.item else { return finish(check, stored: nil) }
            let now = clock.now
            let first = check.id.map { reportLedger.firstUse(rule: check.rule, key: check.key, id: $0, now: now) } ?? true
            return finish(check, stored: store.report(item, now: now, apply: first))
        }
    }

    /// The final answer for `check` given the store's (nil for an unlimited key); counts it
    /// unless it was a duplicate.
    public func finish(_ check: PreparedReport, stored: Report?) -> Report {
        let report = stored ?? check.unlimitedReport
        if !report.duplicate { check.installed.recorder?.reported(cost: check.item?.cost ?? 0) }
        return report
    }
}

extension MemoryStore {
    /// Records `item.cost` used units when `apply` is true; else (a duplicate `id`) answers the
    /// key's state unchanged, marked as a duplicate.
    public func report(_ item: StoreItem, now: Nanoseconds, apply: Bool) -> Report {
        withShard(shardIndex(slot: item.slot, keyHash: item.keyHash)) { shard in
            let key = ExactKey(item.key)
            let step = Algorithms.report(shard.state(item.slot, key), now: now, cost: apply ? item.cost : 0, limits: item.limits)
            if apply, item.cost != 0 {
                if let next = step.next { shard.store(next, slot: item.slot, key: key) } else { shard.remove(slot: item.slot, key: key) }
            }
            var report = step.report
            report.duplicate = !apply
            return report
        }
    }
}
