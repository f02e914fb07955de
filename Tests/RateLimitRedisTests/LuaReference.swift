import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport

/// The scripts' numbers, in µs: the largest they return (larger times clamp to it), and 2^53,
/// where their fast paths (plain Lua doubles) give way to exact bignums.
let maxMicroseconds: Int64 = (1 << 53) - 1
let two53: Int128 = 1 << 53
let maxPeriodMicroseconds = Limits.maxPeriod / 1000

/// A rule's limits as the scripts take them: the algorithm's code (1 token_bucket,
/// 2 sliding_window, 3 fixed_window, 4 leaky_bucket), limit, period in µs and burst.
struct ScriptLimits: Hashable, CustomStringConvertible {
    static let token = 1, sliding = 2, fixed = 3, leaky = 4

    var code: Int
    var limit: Int64
    var period: Int64
    var burst: Int64

    /// The same limits in Core's nanoseconds: what the reference model, `Algorithms`, decides by.
    func core() throws -> Limits {
        let algorithm: [Algorithm] = [.tokenBucket, .slidingWindow, .fixedWindow, .leakyBucket]
        let bucket = code == Self.token || code == Self.leaky
        return try Limits(algorithm: algorithm[code - 1], limit: limit, period: period * 1000, burst: bucket ? burst : nil)
    }

    /// The single-key script that decides these limits.
    var script: String { ["tokenBucket", "slidingWindow", "fixedWindow", "leakyBucket"][code - 1] }

    /// ARGV limit, period_us, burst.
    var arguments: [String] { [String(limit), String(period), String(burst)] }

    var description: String { "code \(code) limit \(limit) period \(period) µs burst \(burst)" }
}

/// One decision in the scripts' units: allowed, remaining, reset_after, retry_after, delay (µs).
struct ScriptAnswer: Equatable, CustomStringConvertible {
    var allowed: Bool
    var remaining: Int64, resetAfter: Int64, retryAfter: Int64, delay: Int64

    /// `Algorithms`' decision in µs. The reference runs on now and period × 1000 (exact ns), so
    /// its floors are 1000 × the µs ones and its ceilings round up to the µs ones (⌈⌈x/a⌉/b⌉ =
    /// ⌈x/ab⌉); times past 2^53 − 1 µs clamp as the scripts do.
    init(_ d: Decision) {
        self.init(allowed: d.allowed, remaining: d.remaining, resetAfter: Self.us(d.resetAfter), retryAfter: Self.us(d.retryAfter), delay: Self.us(d.delay))
    }

    init(allowed: Bool, remaining: Int64, resetAfter: Int64, retryAfter: Int64, delay: Int64) {
        (self.allowed, self.remaining, self.resetAfter, self.retryAfter, self.delay) = (allowed, remaining, resetAfter, retryAfter, delay)
    }

    /// ⌈ns / 1000⌉, clamped to 2^53 − 1 µs.
    static func us(_ ns: Int64) -> Int64 { min(ns / 1000 + (ns % 1000 == 0 ? 0 : 1), maxMicroseconds) }

    var numbers: [Int64] { [allowed ? 1 : 0, remaining, resetAfter, retryAfter, delay] }
    var description: String { numbers.description }
}

/// Conversions between Core's `KeyState` (ns) and the scripts' stored value (µs).
enum StoredState {
    /// A bucket's TAT in units of 1/limit ns, as one integer.
    static func wide(_ s: KeyState) -> Int128 { (Int128(s.high) << 64) | Int128(UInt64(bitPattern: s.low)) }

    static func state(wide value: Int128) -> KeyState {
        KeyState(high: Int64(truncatingIfNeeded: value >> 64), low: Int64(truncatingIfNeeded: value))
    }

    /// A bucket's TAT in units of 1/limit µs (every reference TAT is a multiple of 1000).
    static func tat(_ s: KeyState) -> Int128 { wide(s) / 1000 }

    /// The seven fields the scripts store, struct.pack('<BI4dI4ddd', code, limit, period_us,
    /// burst, x, y, z): buckets x, y, z = hi, lo, b with tat = (hi·2^53 + lo)·limit + b;
    /// fixed window = window, count, 0; sliding window = window, current, previous.
    static func fields(_ s: KeyState, _ l: ScriptLimits) -> [Int128] {
        let head = [Int128(l.code), Int128(l.limit), Int128(l.period), Int128(l.burst)]
        switch l.code {
        case ScriptLimits.token, ScriptLimits.leaky:
            let (a, b) = tat(s).quotientAndRemainder(dividingBy: Int128(l.limit))
            return head + [a >> 53, a & (two53 - 1), b]
        case ScriptLimits.fixed:
            return head + [Int128(s.high), Int128(s.low), 0]
        default:
            return head + [Int128(s.high), Int128(s.low >> 32), Int128(s.low & 0xFFFF_FFFF)]
        }
    }

    /// A state of the scripts' own µs form: a bucket's TAT (units of 1/limit µs), or a window
    /// and its counts.
    static func bucket(tat: Int128) -> KeyState { state(wide: tat * 1000) }
    static func window(_ window: Int64, current: Int64, previous: Int64) -> KeyState {
        KeyState(high: window, low: current << 32 | previous)
    }

    /// The fields of a stored value (nil unless it has the 41-byte layout).
    static func decode(_ bytes: [UInt8]) -> [Int128]? {
        guard bytes.count == 41 else { return nil }
        func uint(_ at: Int, _ width: Int) -> UInt64 {
            (0..<width).reduce(0) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
        }
        func double(_ at: Int) -> Int128? {
            guard let n = Int64(exactly: Double(bitPattern: uint(at, 8))) else { return nil }
            return Int128(n)
        }
        let parts: [Int128?] = [Int128(bytes[0]), Int128(uint(1, 4)), double(5), Int128(uint(13, 4)), double(17), double(25), double(33)]
        let exact = parts.compactMap { $0 }
        return exact.count == 7 ? exact : nil
    }

    /// How long after `now` (µs) the state is idle (`Algorithms.isIdle`): the TTL it needs.
    static func idleAfter(_ s: KeyState, now: Int64, _ l: ScriptLimits) -> Int64 {
        let t: Int128
        switch l.code {
        case ScriptLimits.token, ScriptLimits.leaky:
            let w = tat(s) - Int128(now) * Int128(l.limit)
            t = w <= 0 ? 0 : (w + Int128(l.limit) - 1) / Int128(l.limit)
        default:
            t = (Int128(s.high) + (l.code == ScriptLimits.fixed ? 1 : 2)) * Int128(l.period) - Int128(now)
        }
        return Int64(clamping: max(t, 0))
    }
}

/// MemoryStore's decisions over `Algorithms`, keyed as the scripts' keys: a state stored under
/// other limits reads as a new key (as the scripts do, and as MemoryStore drops a changed rule's
/// keys).
struct ReferenceStore {
    var stored: [String: (limits: ScriptLimits, state: KeyState)] = [:]

    func state(_ key: String, _ l: ScriptLimits) -> KeyState? {
        stored[key].flatMap { $0.limits == l ? $0.state : nil }
    }

    static func step(_ state: KeyState?, now: Int64, cost: Int64, _ l: ScriptLimits) throws -> Step {
        Algorithms.step(state, now: now * 1000, cost: cost, limits: try l.core())
    }

    /// A batch, as MemoryStore.decideBatch: every item sees the earlier items' pending states;
    /// allowed only if every non-shadow item is; a denied batch writes nothing and answers
    /// `Algorithms.unconsumed`. Not `batch`: the single-key script, which answers its denial
    /// itself. Returns what was written.
    mutating func decide(_ items: [ScriptItem], commit: Bool, now: Int64, batch: Bool) throws
        -> (allowed: Bool, answers: [ScriptAnswer], written: [String: (limits: ScriptLimits, state: KeyState)])
    {
        var pending: [String: (limits: ScriptLimits, state: KeyState)] = [:]
        var answers: [ScriptAnswer] = []
        var all = true
        for item in items {
            let entry = pending[item.key] ?? stored[item.key]
            let s = try Self.step(entry.flatMap { $0.limits == item.limits ? $0.state : nil }, now: now, cost: item.cost, item.limits)
            all = all && (s.decision.allowed || item.shadow)
            if s.decision.allowed, item.cost > 0 { pending[item.key] = (item.limits, s.next) }
            answers.append(ScriptAnswer(s.decision))
        }
        if all || !batch {
            let written = commit ? pending : [:]
            stored.merge(written) { $1 }
            return (all, answers, written)
        }
        let own = try items.map {
            ScriptAnswer(Algorithms.unconsumed(state($0.key, $0.limits), now: now * 1000, cost: $0.cost, limits: try $0.limits.core()))
        }
        return (false, own, [:])
    }
}

/// One item of a script call.
struct ScriptItem {
    var key: String
    var limits: ScriptLimits
    var cost: Int64
    /// The batch script's shadow flag.
    var shadow = false
    /// The multi script's per-item commit flag.
    var commit = true
}
