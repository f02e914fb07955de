/// `sluice replay --compare`: the same trace under the rules in force and under new ones, and
/// what the change would change, per rule. A safe way to tighten limits: run it in CI.
public final class ReplayComparison {
    /// Per rule: what each rule set made of the same requests.
    public struct RuleDelta: Sendable, Hashable {
        public var rule: String
        public var requests = 0
        /// Denied or refused (an impossible cost, an unknown rule) under each rule set.
        public var deniedBefore = 0
        public var deniedAfter = 0
        /// Allowed before and not after, and the other way round.
        public var newlyDenied = 0
        public var newlyAllowed = 0
        /// The first trace line whose verdict differs.
        public var firstDivergence: Int?
        /// The keys with the most newly denied (or newly allowed) requests, most first.
        public var newlyDeniedKeys: [(key: String, denied: Int)] = []
        public var newlyAllowedKeys: [(key: String, denied: Int)] = []

        public init(rule: String) { self.rule = rule }

        public static func == (a: RuleDelta, b: RuleDelta) -> Bool {
            a.rule == b.rule && a.requests == b.requests && a.deniedBefore == b.deniedBefore && a.deniedAfter == b.deniedAfter
                && a.newlyDenied == b.newlyDenied && a.newlyAllowed == b.newlyAllowed && a.firstDivergence == b.firstDivergence
                && a.newlyDeniedKeys.elementsEqual(b.newlyDeniedKeys) { $0 == $1 }
                && a.newlyAllowedKeys.elementsEqual(b.newlyAllowedKeys) { $0 == $1 }
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(rule) }
    }

    public let before: ReplaySession
    public let after: ReplaySession
    private var deltas: [String: RuleDelta] = [:]
    private var order: [String] = []
    private var deniedKeys: [String: [String: Int]] = [:]
    private var allowedKeys: [String: [String: Int]] = [:]

    public init(before: RuleSet, after: RuleSet) {
        self.before = ReplaySession(rules: before)
        self.after = ReplaySession(rules: after)
    }

    /// Decides `event` (trace line `line`) under both rule sets.
    public func apply(_ event: ReplayEvent, line: Int) throws(ReplaySession.Failure) -> (before: ReplayOutcome, after: ReplayOutcome) {
        let old = try before.apply(event)
        let new = try after.apply(event)
        if deltas[event.rule] == nil { order.append(event.rule) }
        var delta = deltas[event.rule] ?? RuleDelta(rule: event.rule)
        delta.requests += 1
        if !old.allowed { delta.deniedBefore += 1 }
        if !new.allowed { delta.deniedAfter += 1 }
        if old.allowed, !new.allowed {
            delta.newlyDenied += 1
            deniedKeys[event.rule, default: [:]][event.key, default: 0] += 1
        } else if !old.allowed, new.allowed {
            delta.newlyAllowed += 1
            allowedKeys[event.rule, default: [:]][event.key, default: 0] += 1
        }
        if delta.firstDivergence == nil, old.allowed != new.allowed { delta.firstDivergence = line }
        deltas[event.rule] = delta
        return (old, new)
    }

    /// Per rule, in the order the trace first used each.
    public func report() -> [RuleDelta] {
        order.compactMap { rule in
            guard var delta = deltas[rule] else { return nil }
            delta.newlyDeniedKeys = ReplaySession.top(deniedKeys[rule] ?? [:])
            delta.newlyAllowedKeys = ReplaySession.top(allowedKeys[rule] ?? [:])
            return delta
        }
    }

    /// Newly denied requests as a share of all requests (0 for an empty trace).
    public var newlyDeniedShare: Double {
        let requests = deltas.values.reduce(0) { $0 + $1.requests }
        return requests == 0 ? 0 : Double(deltas.values.reduce(0) { $0 + $1.newlyDenied }) / Double(requests)
    }
}
