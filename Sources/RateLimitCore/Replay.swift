/// One request of a trace: at virtual time `time` (ns since 0), may `key` spend `cost` under `rule`?
public struct ReplayEvent: Sendable, Hashable {
    public var time: Nanoseconds
    public var rule: String
    public var key: String
    public var cost: Int64
    /// A concurrency rule's check: its lease is released this long after `time` (the request's
    /// duration). Nil: never released, so it expires at its `lease_ttl` (a caller that crashed).
    public var hold: Nanoseconds?

    public init(time: Nanoseconds, rule: String, key: String, cost: Int64 = 1, hold: Nanoseconds? = nil) {
        self.time = time
        self.rule = rule
        self.key = key
        self.cost = cost
        self.hold = hold
    }
}

/// What the rules made of one event: a decision, or a refusal the live API would answer 400/404
/// (an unknown rule, a cost the rule can never grant). A refusal is counted, never fatal.
public enum ReplayOutcome: Sendable, Hashable {
    case decided(Decision)
    case refused(CheckError)

    /// Allowed (a shadow rule's would-be denial counts as allowed).
    public var allowed: Bool {
        if case .decided(let d) = self { return d.allowed }
        return false
    }
}

/// Per-rule totals of a replay.
public struct ReplaySummary: Sendable, Hashable {
    public var rule: String
    public var requests = 0
    public var allowed = 0
    public var denied = 0
    /// Would-be denials of a shadow rule (counted as allowed).
    public var shadowDenied = 0
    /// Events the rules refused (impossible cost, unknown rule): neither allowed nor denied.
    public var refused = 0
    /// The most denied keys, most first (ties by key), at most `ReplaySession.topKeys`.
    public var topDenied: [(key: String, denied: Int)] = []

    public init(rule: String) { self.rule = rule }

    public static func == (a: ReplaySummary, b: ReplaySummary) -> Bool {
        a.rule == b.rule && a.requests == b.requests && a.allowed == b.allowed && a.denied == b.denied
            && a.shadowDenied == b.shadowDenied && a.refused == b.refused && a.topDenied.elementsEqual(b.topDenied) { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(rule) }
}

/// The what-if tool: decides a trace on a virtual clock, exactly as the live limiter would.
public final class ReplaySession {
    public static let topKeys = 5

    /// Why the trace cannot go on.
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case timeWentBackwards(previous: Nanoseconds, now: Nanoseconds)

        public var description: String {
            switch self {
            case .timeWentBackwards(let previous, let now):
                "t_ms must not decrease (was \(Double(previous) / 1e6), now \(Double(now) / 1e6))"
            }
        }
    }

    private let clock = ManualClock()
    private let limiter: RateLimiter
    private var totals: [String: ReplaySummary] = [:]
    private var order: [String] = []
    private var deniedByKey: [String: [String: Int]] = [:]
    /// Leases to release (events with a `hold`), by release time; ties in grant order.
    private var releases: [(at: Nanoseconds, request: ReleaseRequest)] = []

    public init(rules: RuleSet) {
        limiter = RateLimiter(rules: rules, clock: clock)
    }

    /// Decides one event; events must come in non-decreasing time order.
    public func apply(_ event: ReplayEvent) throws(Failure) -> ReplayOutcome {
        guard event.time >= clock.now else { throw .timeWentBackwards(previous: clock.now, now: event.time) }
        releaseHeld(until: event.time)
        clock.set(event.time)
        if totals[event.rule] == nil { order.append(event.rule) }
        var total = totals[event.rule] ?? ReplaySummary(rule: event.rule)
        defer { totals[event.rule] = total }
        total.requests += 1
        let decision: Decision
        do {
            decision = try limiter.check(CheckRequest(rule: event.rule, key: event.key, cost: event.cost))
        } catch {
            total.refused += 1
            return .refused(error)
        }
        if let lease = decision.lease, let hold = event.hold {
            let at = event.time + max(hold, 0)
            let index = releases.firstIndex { $0.at > at } ?? releases.endIndex
            releases.insert((at, ReleaseRequest(rule: event.rule, key: event.key, lease: lease.id)), at: index)
        }
        if decision.allowed { total.allowed += 1 } else { total.denied += 1 }
        if decision.shadowDenied { total.shadowDenied += 1 }
        if !decision.allowed || decision.shadowDenied { deniedByKey[event.rule, default: [:]][event.key, default: 0] += 1 }
        return .decided(decision)
    }

    /// Releases, at their own instants, the leases due by `time`. One already expired (held
    /// longer than its lease_ttl) is no longer held: nothing to free.
    private func releaseHeld(until time: Nanoseconds) {
        let due = releases.prefix { $0.at <= time }
        releases.removeFirst(due.count)
        for (at, request) in due {
            clock.set(at)
            _ = try? limiter.release(request)
        }
    }

    /// Totals per rule: the rule set's rules in its order, then names the rules do not know.
    public func summary() -> [ReplaySummary] {
        let known = limiter.rules.rules.map(\.name)
        let names = known.filter { totals[$0] != nil } + order.filter { limiter.rules[$0] == nil }
        return names.compactMap { name in
            guard var total = totals[name] else { return nil }
            total.topDenied = Self.top(deniedByKey[name] ?? [:])
            return total
        }
    }

    /// The `topKeys` largest counts, most first, ties by key.
    static func top(_ counts: [String: Int]) -> [(key: String, denied: Int)] {
        counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .prefix(topKeys)
            .map { (key: $0.key, denied: $0.value) }
    }
}
