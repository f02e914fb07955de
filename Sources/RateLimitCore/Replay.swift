/// One request of a trace: at virtual time `time` (ns since 0), may `key` spend `cost` under `rule`?
public struct ReplayEvent: Sendable, Hashable {
    public var time: Nanoseconds
    public var rule: String
    public var key: String
    public var cost: Int64

    public init(time: Nanoseconds, rule: String, key: String, cost: Int64 = 1) {
        self.time = time
        self.rule = rule
        self.key = key
        self.cost = cost
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
    /// The most denied keys, most first (ties by key), at most `ReplaySession.topKeys`.
    public var topDenied: [(key: String, denied: Int)] = []

    public static func == (a: ReplaySummary, b: ReplaySummary) -> Bool {
        a.rule == b.rule && a.requests == b.requests && a.allowed == b.allowed && a.denied == b.denied
            && a.shadowDenied == b.shadowDenied && a.topDenied.elementsEqual(b.topDenied) { $0 == $1 }
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(rule) }
}

/// The what-if tool: decides a trace on a virtual clock, exactly as the live limiter would.
public final class ReplaySession {
    public static let topKeys = 5

    /// Why an event could not be replayed.
    public enum Failure: Error, Hashable, CustomStringConvertible {
        case timeWentBackwards(previous: Nanoseconds, now: Nanoseconds)
        case check(CheckError)

        public var description: String {
            switch self {
            case .timeWentBackwards(let previous, let now):
                "t_ms must not decrease (was \(Double(previous) / 1e6), now \(Double(now) / 1e6))"
            case .check(let error): error.description
            }
        }
    }

    private let clock = ManualClock()
    private let limiter: RateLimiter
    private var totals: [String: ReplaySummary] = [:]
    private var deniedByKey: [String: [String: Int]] = [:]

    public init(rules: RuleSet) {
        limiter = RateLimiter(rules: rules, clock: clock)
    }

    /// Decides one event; events must come in non-decreasing time order.
    public func apply(_ event: ReplayEvent) throws(Failure) -> Decision {
        guard event.time >= clock.now else { throw .timeWentBackwards(previous: clock.now, now: event.time) }
        clock.set(event.time)
        let decision: Decision
        do {
            decision = try limiter.check(CheckRequest(rule: event.rule, key: event.key, cost: event.cost))
        } catch {
            throw .check(error)
        }
        var total = totals[event.rule] ?? ReplaySummary(rule: event.rule)
        total.requests += 1
        if decision.allowed { total.allowed += 1 } else { total.denied += 1 }
        if decision.shadowDenied { total.shadowDenied += 1 }
        if !decision.allowed || decision.shadowDenied { deniedByKey[event.rule, default: [:]][event.key, default: 0] += 1 }
        totals[event.rule] = total
        return decision
    }

    /// Totals per rule, in the rule set's order (rules never used are left out).
    public func summary() -> [ReplaySummary] {
        limiter.rules.rules.compactMap { rule in
            guard var total = totals[rule.name] else { return nil }
            total.topDenied = (deniedByKey[rule.name] ?? [:])
                .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .prefix(Self.topKeys)
                .map { (key: $0.key, denied: $0.value) }
            return total
        }
    }
}
