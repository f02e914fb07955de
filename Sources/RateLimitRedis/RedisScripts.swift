import RateLimitCore

/// The Lua scripts the store runs (their text and KEYS/ARGV contracts are in `LuaScripts`).
enum Script: String, CaseIterable, Sendable {
    case tokenBucket, slidingWindow, fixedWindow, leakyBucket, batch

    init(_ algorithm: Algorithm) {
        switch algorithm {
        case .tokenBucket: self = .tokenBucket
        case .slidingWindow: self = .slidingWindow
        case .fixedWindow: self = .fixedWindow
        case .leakyBucket: self = .leakyBucket
        }
    }

    var source: String {
        switch self {
        case .tokenBucket: LuaScripts.tokenBucket
        case .slidingWindow: LuaScripts.slidingWindow
        case .fixedWindow: LuaScripts.fixedWindow
        case .leakyBucket: LuaScripts.leakyBucket
        case .batch: LuaScripts.batch
        }
    }
}

extension Algorithm {
    /// The algorithm's number in the batch script's ARGV.
    var scriptCode: Int {
        switch self {
        case .tokenBucket: 1
        case .slidingWindow: 2
        case .fixedWindow: 3
        case .leakyBucket: 4
        }
    }
}

extension RedisStore {
    /// `PREFIX:{RULE:KEY}:ALGORITHM:LIMIT:PERIOD_MS:BURST`. The `{…}` hash tag keeps a key's
    /// state on one Cluster slot; the limits are part of the name, so a changed rule or an
    /// override starts fresh instead of reading state measured against other limits.
    func redisKey(rule: String, _ item: StoreItem) -> String {
        let l = item.limits
        return "\(options.keyPrefix):{\(rule):\(item.key)}:\(l.algorithm.scriptCode):\(l.limit):\(l.period / 1_000_000):\(l.burst)"
    }

    /// KEYS and ARGV for one item (single-key script) or several (batch script).
    func arguments(_ items: [(String, StoreItem)], commit: Bool) -> [String] {
        let now = options.scriptClock.map { String($0.now / 1000) } ?? ""
        let flag = commit ? "1" : "0"
        if items.count == 1, let (rule, item) = items.first {
            let l = item.limits
            return ["1", redisKey(rule: rule, item), String(l.limit), String(l.period / 1000), String(l.burst), String(item.cost), flag, now]
        }
        var out = [String(items.count)]
        out.reserveCapacity(1 + items.count * 7 + 2)
        for (rule, item) in items { out.append(redisKey(rule: rule, item)) }
        out.append(flag)
        out.append(now)
        for (_, item) in items {
            let l = item.limits
            out += [String(l.algorithm.scriptCode), String(l.limit), String(l.period / 1000), String(l.burst), String(item.cost), item.shadow ? "1" : "0"]
        }
        return out
    }

    /// Decisions from a script's reply (times come back in µs).
    static func decode(_ reply: RESPValue, items: [StoreItem], batch: Bool) throws -> BatchDecision {
        guard case .array(let values?) = reply else { throw RedisConnectionError.protocolError("the script returned \(reply)") }
        var numbers: [Int64] = []
        numbers.reserveCapacity(values.count)
        for value in values {
            guard case .integer(let n) = value else { throw RedisConnectionError.protocolError("the script returned a non-integer") }
            numbers.append(n)
        }
        func decision(_ item: StoreItem, at i: Int) -> Decision {
            Decision(
                allowed: numbers[i] == 1, limit: item.limits.limit, period: item.limits.period, remaining: numbers[i + 1],
                resetAfter: numbers[i + 2] * 1000, retryAfter: numbers[i + 3] * 1000, delay: numbers[i + 4] * 1000)
        }
        if !batch {
            guard numbers.count >= 5, let item = items.first else { throw RedisConnectionError.protocolError("short script reply") }
            let d = decision(item, at: 0)
            return BatchDecision(allowed: d.allowed || item.shadow, decisions: [d])
        }
        guard numbers.count == 2 + 5 * items.count else { throw RedisConnectionError.protocolError("batch reply has \(numbers.count) numbers") }
        return BatchDecision(allowed: numbers[0] == 1, decisions: items.enumerated().map { i, item in decision(item, at: 2 + 5 * i) })
    }
}
