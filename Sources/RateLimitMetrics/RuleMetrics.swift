public import RateLimitCore
import Synchronization

/// One rule's decision counters, remaining-units histogram and heaviest keys; records each
/// committed decision under one lock.
public final class RuleMetrics: DecisionRecorder {
    struct Counts {
        var allowed: UInt64 = 0
        var denied: UInt64 = 0
        var hits: UInt64 = 0
        var shadowDenied: UInt64 = 0
        /// Reports recorded (`POST /v1/report`; duplicates of an id excluded).
        var reported: UInt64 = 0
        var activeClients = 0
        /// Leases held (concurrency rules only; nil: no series).
        var leasesActive: Int?
        /// Per bucket of `SluiceMetrics.remainingBuckets` (not cumulative), then +Inf.
        var buckets = [UInt64](repeating: 0, count: SluiceMetrics.remainingBuckets.count + 1)
        var sum: Double = 0
        var top: TopKeys
    }

    let rule: String
    /// `rule="…"`, escaped once.
    let label: String
    let counts: Mutex<Counts>
    let topKeysKept: Bool

    init(rule: String, topKeys: TopKeysSettings) {
        self.rule = rule
        self.label = "rule=\"\(RuleMetricsTable.escape(rule))\""
        self.topKeysKept = topKeys.capacity > 0
        self.counts = Mutex(Counts(top: TopKeys(capacity: topKeys.capacity, interval: topKeys.interval)))
    }

    public func record(_ event: DecisionEvent) {
        let value = Double(event.remaining)
        let bucket = SluiceMetrics.remainingBuckets.firstIndex { value <= $0 } ?? SluiceMetrics.remainingBuckets.count
        let kept = topKeysKept
        counts.withLock { c in
            if event.allowed { c.allowed &+= 1 } else { c.denied &+= 1 }
            if event.limitHit { c.hits &+= 1 }
            if event.shadowDenied { c.shadowDenied &+= 1 }
            c.buckets[bucket] &+= 1
            c.sum += value
            if kept { c.top.add(event.key, hash: event.keyHash, denied: event.limitHit || event.shadowDenied, now: event.now) }
        }
    }

    public func reported(cost: Int64) {
        counts.withLock { $0.reported &+= 1 }
    }

    public func topKeys(by ranking: TopKeys.Ranking, n: Int, now: Nanoseconds) -> TopKeys.Report? {
        guard topKeysKept else { return nil }
        var top = counts.withLock { $0.top }  // ranked outside the lock
        return top.report(by: ranking, n: n, now: now)
    }

    /// `rate_limiter_active_clients{rule}`.
    public func setActiveClients(_ n: Int) { counts.withLock { $0.activeClients = n } }

    /// `rate_limiter_leases_active{rule}` (a concurrency rule's).
    public func setLeasesActive(_ n: Int) { counts.withLock { $0.leasesActive = n } }
}

/// The live rules' series. Registering and removing a rule is O(1) (swift-prometheus copies a
/// family's label map per registration, which made installing n rules O(n²) and kept a removed
/// rule's series forever: red team 2, F5 and F10).
public final class RuleMetricsTable: Sendable {
    private let live = Mutex<(byName: [String: RuleMetrics], order: [String])>(([:], []))
    let topKeys: TopKeysSettings

    init(topKeys: TopKeysSettings) {
        self.topKeys = topKeys
    }

    /// The recorder of `rule`, created on first use.
    func recorder(forRule rule: String) -> RuleMetrics {
        live.withLock { table in
            if let existing = table.byName[rule] { return existing }
            let made = RuleMetrics(rule: rule, topKeys: topKeys)
            table.byName[rule] = made
            table.order.append(rule)
            return made
        }
    }

    /// Removes the series of every rule not in `names`.
    public func retain(only names: Set<String>) {
        live.withLock { table in
            guard table.byName.keys.contains(where: { !names.contains($0) }) else { return }
            table.order.removeAll { !names.contains($0) }
            table.byName = table.byName.filter { names.contains($0.key) }
        }
    }

    /// The rules with series, in the order they were first recorded.
    public var ruleNames: [String] { live.withLock { $0.order } }

    func render(into buffer: inout [UInt8], now: Nanoseconds) {
        let rules = live.withLock { table in table.order.compactMap { table.byName[$0] } }
        guard !rules.isEmpty else { return }
        renderTopKeys(rules, now: now, into: &buffer)
        let snapshot = rules.map { ($0.label, $0.counts.withLock { $0 }) }
        var out = ""
        out += "# HELP rate_limiter_request_total Rate-limit decisions by rule and verdict.\n# TYPE rate_limiter_request_total counter\n"
        for (label, c) in snapshot {
            out += "rate_limiter_request_total{\(label),allowed=\"true\"} \(c.allowed)\n"
            out += "rate_limiter_request_total{\(label),allowed=\"false\"} \(c.denied)\n"
        }
        out += "# HELP rate_limiter_hits_total Requests denied because this rule's limit was hit.\n# TYPE rate_limiter_hits_total counter\n"
        for (label, c) in snapshot { out += "rate_limiter_hits_total{\(label)} \(c.hits)\n" }
        out += "# HELP rate_limiter_shadow_denied_total Requests a shadow rule allowed but would have denied.\n# TYPE rate_limiter_shadow_denied_total counter\n"
        for (label, c) in snapshot { out += "rate_limiter_shadow_denied_total{\(label)} \(c.shadowDenied)\n" }
        out += "# HELP rate_limiter_reported_total Reports of usage that already happened (POST /v1/report), by rule.\n# TYPE rate_limiter_reported_total counter\n"
        for (label, c) in snapshot { out += "rate_limiter_reported_total{\(label)} \(c.reported)\n" }
        out += "# HELP rate_limiter_active_clients Keys with live state.\n# TYPE rate_limiter_active_clients gauge\n"
        for (label, c) in snapshot { out += "rate_limiter_active_clients{\(label)} \(c.activeClients)\n" }
        if snapshot.contains(where: { $0.1.leasesActive != nil }) {
            out += "# HELP rate_limiter_leases_active Concurrency leases held (granted, not released, not expired).\n# TYPE rate_limiter_leases_active gauge\n"
            for (label, c) in snapshot { if let n = c.leasesActive { out += "rate_limiter_leases_active{\(label)} \(n)\n" } }
        }
        out += "# HELP rate_limiter_token_bucket_size Units remaining after each decision.\n# TYPE rate_limiter_token_bucket_size histogram\n"
        for (label, c) in snapshot {
            var cumulative: UInt64 = 0
            for (i, bound) in SluiceMetrics.remainingBuckets.enumerated() {
                cumulative &+= c.buckets[i]
                out += "rate_limiter_token_bucket_size_bucket{\(label),le=\"\(Self.format(bound))\"} \(cumulative)\n"
            }
            cumulative &+= c.buckets[SluiceMetrics.remainingBuckets.count]
            out += "rate_limiter_token_bucket_size_bucket{\(label),le=\"+Inf\"} \(cumulative)\n"
            out += "rate_limiter_token_bucket_size_sum{\(label)} \(Self.format(c.sum))\n"
            out += "rate_limiter_token_bucket_size_count{\(label)} \(cumulative)\n"
        }
        buffer.append(contentsOf: out.utf8)
    }

    /// Prometheus label-value escaping: backslash, double quote and newline.
    static func escape(_ value: String) -> String {
        value.replacingScalars { scalar in
            switch scalar {
            case "\\": "\\\\"
            case "\"": "\\\""
            case "\n": "\\n"
            default: nil
            }
        }
    }

    /// A float the way Prometheus prints it: integers without a fraction.
    static func format(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// How many keys each rule's top-keys summary tracks, over which interval, and what the opt-in
/// `rate_limiter_top_key_*` series export.
public struct TopKeysSettings: Sendable {
    /// Keys tracked per rule and ranking (requests, denied); 0 keeps none (`--top-keys`).
    public var capacity: Int = 64
    /// The interval; answers cover the current and the previous one.
    public var interval: Nanoseconds = 60_000_000_000
    /// Series exported per rule and ranking; 0 exports none (`--top-keys-metric`).
    public var exported: Int = 0
    /// When set, the `key` label is the HMAC-SHA256 of the key under this secret (first 16 hex
    /// digits), not the key (`--top-keys-metric-secret`).
    public var labelSecret: [UInt8]?

    public init() {}
}

extension RuleMetricsTable {
    /// `rate_limiter_top_key_requests{rule,key}` and `rate_limiter_top_key_denied{rule,key}`: at
    /// most `exported` series per rule each, the upper-bound counts over the covered time.
    func renderTopKeys(_ rules: [RuleMetrics], now: Nanoseconds, into buffer: inout [UInt8]) {
        guard topKeys.exported > 0, topKeys.capacity > 0 else { return }
        var out = ""
        for ranking in TopKeys.Ranking.allCases {
            let name = "rate_limiter_top_key_\(ranking.rawValue)"
            out += "# HELP \(name) The rule's heaviest keys by \(ranking.rawValue) over the last one to two intervals (an upper bound).\n"
            out += "# TYPE \(name) gauge\n"
            for rule in rules {
                for ranked in rule.topKeys(by: ranking, n: topKeys.exported, now: now)?.keys ?? [] {
                    let key = topKeys.labelSecret.map { String(SHA256.hmacHex(key: $0, ranked.key.utf8).prefix(16)) } ?? ranked.key
                    out += "\(name){\(rule.label),key=\"\(Self.escape(key))\"} \(ranked.count)\n"
                }
            }
        }
        buffer.append(contentsOf: out.utf8)
    }
}
