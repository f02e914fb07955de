import NIOCore
import RateLimitCore

/// A batch over several Cluster slots. A Lua script may only touch keys of one slot, so the
/// batch is split by slot: every slot's items are still one atomic script call, and across
/// slots the batch runs in two phases, a check of every part (`commit: false`), then, only if
/// every part allows, the commit of every part. A denied batch consumes nothing and answers
/// exactly as on one server.
///
/// Why split rather than refuse with a 400: a batch over several clients' keys (per user plus
/// per IP, per user plus global) is legitimate, and an application cannot move its keys to
/// one slot. What is weaker than on one server: between the two phases another request may
/// spend the same budget; then a part's commit denies, the batch is denied, and the parts that
/// committed keep what they consumed. No limit is ever exceeded (each commit re-decides
/// atomically); the error is on the side of consuming too much, and only under contention.
extension RedisStore {
    /// `items`: each with its Redis key.
    func decideBySlot(_ items: [(String, StoreItem)], commit: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<BatchDecision> {
        let groups = Self.slotGroups(items.map(\.0))
        guard groups.count > 1 else { return decideAtOnce(items, commit: commit, on: eventLoop) }
        let parts = { (commit: Bool) in
            EventLoopFuture.whenAllSucceed(
                groups.map { group in self.decideAtOnce(group.map { items[$0] }, commit: commit, on: eventLoop) }, on: eventLoop
            ).map { Self.merge($0, groups: groups, count: items.count) }
        }
        return parts(false).flatMap { checked in
            if checked.allowed { return commit ? parts(true) : eventLoop.makeSucceededFuture(checked) }
            return self.unchanged(items, on: eventLoop).map { BatchDecision(allowed: false, decisions: $0) }
        }
    }

    /// A denied batch's answer, as on one server: each item alone against the unchanged state
    /// (a part that allowed reported its state as if consumed). Two status calls per item, all
    /// pipelined; only for a denied batch over several slots.
    func unchanged(_ items: [(String, StoreItem)], on eventLoop: any EventLoop) -> EventLoopFuture<[Decision]> {
        let answers = items.map { item in
            var free = item
            free.1.cost = 0
            return decideAtOnce([item], commit: false, on: eventLoop).and(decideAtOnce([free], commit: false, on: eventLoop))
                .map { alone, now in
                    var decision = alone.decisions[0]
                    decision.remaining = now.decisions[0].remaining
                    decision.resetAfter = now.decisions[0].resetAfter
                    decision.retryAfter = decision.allowed ? 0 : decision.retryAfter
                    decision.delay = 0
                    return decision
                }
        }
        return EventLoopFuture.whenAllSucceed(answers, on: eventLoop)
    }

    /// The items' indices grouped by slot, in the order each slot first appears.
    static func slotGroups(_ keys: [String]) -> [[Int]] {
        var groups: [[Int]] = []
        var groupOfSlot: [Int: Int] = [:]
        for (i, key) in keys.enumerated() {
            let slot = HashSlot.slot(of: key)
            if let g = groupOfSlot[slot] {
                groups[g].append(i)
            } else {
                groupOfSlot[slot] = groups.count
                groups.append([i])
            }
        }
        return groups
    }

    /// One batch answer from the parts' answers: allowed only if every part is.
    static func merge(_ parts: [BatchDecision], groups: [[Int]], count: Int) -> BatchDecision {
        var decisions = [Decision?](repeating: nil, count: count)
        for (part, group) in zip(parts, groups) {
            for (decision, index) in zip(part.decisions, group) { decisions[index] = decision }
        }
        return BatchDecision(allowed: parts.allSatisfy(\.allowed), decisions: decisions.compactMap { $0 })
    }
}
