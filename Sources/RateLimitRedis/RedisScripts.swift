import RateLimitCore

/// The Lua scripts the store runs (their text and KEYS/ARGV contracts are in `Lua/*.lua`, composed by
/// `LuaScripts`).
enum Script: String, CaseIterable, Sendable {
    case tokenBucket, slidingWindow, fixedWindow, leakyBucket, batch, multi, report, leaseAcquire, leaseRelease

    init(_ algorithm: Algorithm) {
        switch algorithm {
        case .tokenBucket: self = .tokenBucket
        case .slidingWindow: self = .slidingWindow
        case .fixedWindow: self = .fixedWindow
        case .leakyBucket: self = .leakyBucket
        case .concurrency: self = .leaseAcquire
        }
    }

    /// The script's text, as embedded from `Lua/` (composed by `LuaScripts`).
    var source: String { LuaScripts.source(of: self) }
}

extension RedisStore {
    /// The names of the Lua scripts the store runs (`tokenBucket`, … `batch`, `multi`, `report`).
    public static var scriptNames: [String] { Script.allCases.map(\.rawValue) }

    /// The text of the script named `name` (one of `scriptNames`), exactly as the store loads it;
    /// nil for another name. For `sluice lua-script`, which scripts/bench and the tests use.
    public static func scriptSource(named name: String) -> String? {
        Script(rawValue: name)?.source
    }
}

extension RedisStore {
    /// `PREFIX:{KEY}:RULE:ALGORITHM:LIMIT:PERIOD_MS:BURST`. The hash tag `{KEY}` is the client's
    /// key alone, so every rule of one client lives on one Cluster slot and a batch over them is
    /// one atomic script call; the limits are part of the name, so a changed rule or an override
    /// starts fresh instead of reading state measured against other limits.
    func redisKey(rule: String, _ item: StoreItem) -> String {
        let l = item.limits
        return "\(options.keyPrefix):{\(Self.hashTag(item.key))}:\(rule):\(l.algorithm.code):\(l.limit):\(l.period / 1_000_000):\(l.burst)"
    }

    /// The key with `%`, `{` and `}` percent-encoded: a `}` would end the tag early (a leading
    /// one would leave it empty, and Redis would then hash the whole name, rule included).
    static func hashTag(_ key: String) -> String {
        guard key.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) else {
            return key
        }
        return key.replacingScalars { scalar in
            switch scalar {
            case "%": "%25"
            case "{": "%7B"
            case "}": "%7D"
            default: nil
            }
        }
    }

    /// The scripts' `now_us` argument: "" (Redis `TIME`), or the test clock's time in µs.
    var scriptNow: String { options.scriptClock.map { String($0.now / 1000) } ?? "" }

    /// KEYS and ARGV for one item (single-key script) or several (batch script); each item
    /// with its Redis key (`redisKey`).
    func arguments(_ items: [(String, StoreItem)], commit: Bool) -> [String] {
        let now = scriptNow
        let flag = commit ? "1" : "0"
        if items.count == 1, let (key, item) = items.first {
            let l = item.limits
            return ["1", key, String(l.limit), String(l.period / 1000), String(l.burst), String(item.cost), flag, now]
        }
        var out = [String(items.count)]
        out.reserveCapacity(1 + items.count * 7 + 2)
        for (key, _) in items { out.append(key) }
        out.append(flag)
        out.append(now)
        for (_, item) in items {
            let l = item.limits
            out += [String(l.algorithm.code), String(l.limit), String(l.period / 1000), String(l.burst), String(item.cost), item.shadow ? "1" : "0"]
        }
        return out
    }

    /// Decisions from a script's reply (times come back in µs). Every number is checked against
    /// the scripts' contract before use: a reply outside it (a buggy or hostile server) is a
    /// protocol error, answered by `on_failure`, never an arithmetic trap (red team 2, F1).
    static func decode(_ reply: RESPValue, items: [StoreItem], batch: Bool) throws -> BatchDecision {
        let numbers = try ScriptReply.numbers(reply)
        if !batch {
            guard numbers.count >= 5, let item = items.first else { throw RedisConnectionError.protocolError("short script reply") }
            let d = try ScriptReply.decision(numbers, at: 0, item: item)
            return BatchDecision(allowed: d.allowed || item.shadow, decisions: [d])
        }
        // Then one lease id (0: none) per concurrency item, in order.
        let leases = items.count { $0.limits.algorithm == .concurrency }
        guard numbers.count == 2 + 5 * items.count + leases else { throw RedisConnectionError.protocolError("batch reply has \(numbers.count) numbers") }
        let allowed = try ScriptReply.flag(numbers[0])
        var decisions: [Decision] = []
        decisions.reserveCapacity(items.count)
        var leaseAt = 2 + 5 * items.count
        for (i, item) in items.enumerated() {
            var decision = try ScriptReply.decision(numbers, at: 2 + 5 * i, item: item)
            if item.limits.algorithm == .concurrency {
                let id = numbers[leaseAt]
                leaseAt += 1
                if id != 0 {
                    guard allowed, decision.allowed, (1...ScriptReply.maxMicroseconds).contains(id) else {
                        throw RedisConnectionError.protocolError("the batch script returned lease = \(id)")
                    }
                    decision.lease = GrantedLease(id: UInt64(id), expiresAfter: item.limits.period)
                }
            }
            decisions.append(decision)
        }
        return BatchDecision(allowed: allowed, decisions: decisions)
    }
}

/// The range checks on a script's numbers: `allowed` is 0 or 1, `remaining` is from 0 to the
/// largest count a rule can hold, and times are from 0 to 2^53 − 1 µs (the scripts clamp
/// there), so converting them to nanoseconds cannot overflow.
enum ScriptReply {
    static let maxMicroseconds: Int64 = (1 << 53) - 1

    /// A script's reply: an array of integers, or a protocol error.
    static func numbers(_ reply: RESPValue) throws -> [Int64] {
        guard case .array(let values?) = reply else { throw RedisConnectionError.protocolError("the script returned \(reply)") }
        var numbers: [Int64] = []
        numbers.reserveCapacity(values.count)
        for value in values {
            guard case .integer(let n) = value else { throw RedisConnectionError.protocolError("the script returned a non-integer") }
            numbers.append(n)
        }
        return numbers
    }

    static func flag(_ n: Int64) throws -> Bool {
        guard n == 0 || n == 1 else { throw RedisConnectionError.protocolError("the script returned \(n) where 0 or 1 belongs") }
        return n == 1
    }

    static func microseconds(_ n: Int64, _ name: StaticString) throws -> Nanoseconds {
        guard (0...maxMicroseconds).contains(n) else {
            throw RedisConnectionError.protocolError("the script returned \(name) = \(n) µs, outside 0...2^53-1")
        }
        return n * 1000
    }

    static func decision(_ numbers: [Int64], at i: Int, item: StoreItem) throws -> Decision {
        let remaining = numbers[i + 1]
        guard (0...2 * Limits.maxLimit).contains(remaining) else {
            throw RedisConnectionError.protocolError("the script returned remaining = \(remaining)")
        }
        var decision = Decision(
            allowed: try flag(numbers[i]), limit: item.limits.limit, period: item.limits.period, remaining: remaining,
            resetAfter: try microseconds(numbers[i + 2], "reset_after"), retryAfter: try microseconds(numbers[i + 3], "retry_after"),
            delay: try microseconds(numbers[i + 4], "delay"))
        decision.store = .redis
        return decision
    }
}

extension RedisStore {
    /// How long a report's `id` is remembered in Redis: `ReportLedger.window`, in ms.
    static let reportIDMilliseconds = ReportLedger.window / 1_000_000

    /// EVALSHA's keys and arguments for one report (the report script's contract): the id's key
    /// sits next to the state key, under the same hash tag.
    func reportArguments(rule: String, _ item: StoreItem, id: String?) -> [String] {
        let l = item.limits
        let key = redisKey(rule: rule, item)
        let keys = id.map { ["2", key, key + ":report:" + $0] } ?? ["1", key]
        let now = scriptNow
        return keys + [
            String(l.algorithm.code), String(l.limit), String(l.period / 1000), String(l.burst), String(item.cost), now,
            String(Self.reportIDMilliseconds),
        ]
    }

    /// A report script's reply, each number checked against the contract.
    static func decodeReport(_ reply: RESPValue, item: StoreItem) throws -> Report {
        guard case .array(let values?) = reply, values.count == 6 else {
            throw RedisConnectionError.protocolError("the report script returned \(reply)")
        }
        var n: [Int64] = []
        for value in values {
            guard case .integer(let x) = value else { throw RedisConnectionError.protocolError("the report script returned a non-integer") }
            n.append(x)
        }
        guard (0...2 * Limits.maxLimit).contains(n[1]), (0...2 * Limits.maxLimit).contains(n[4]) else {
            throw RedisConnectionError.protocolError("the report script returned remaining = \(n[1]), debt = \(n[4])")
        }
        var report = Report(
            limit: item.limits.limit, period: item.limits.period, remaining: n[1],
            resetAfter: try ScriptReply.microseconds(n[2], "reset_after"), retryAfter: try ScriptReply.microseconds(n[3], "retry_after"),
            debt: n[4], duplicate: try ScriptReply.flag(n[0]))
        report.store = .redis
        return report
    }
}
