import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport

/// A script's reply or stored state differed from the reference's.
struct ScriptMismatch: Error, CustomStringConvertible { var description: String }

/// How often each named case came up (the traces must reach every one of `required`).
struct Coverage {
    var counts: [String: Int] = [:]

    mutating func add(_ name: String, _ condition: Bool = true) { if condition { counts[name, default: 0] += 1 } }

    /// Every side of, and the edges of, each of the scripts' 2^53 fast-path guards (see
    /// `guardSides`), and the cases of the traces.
    static let required: [String] = {
        let guards = [
            "token burst·period", "leaky (burst + cost)·period", "bucket stored a", "bucket w", "sliding previous·elapsed",
            "sliding spare·period", "sliding (limit - cost)·period", "bucket new a on the fast path",
        ]
        let edged = ["token burst·period", "leaky (burst + cost)·period", "bucket stored a", "bucket w", "bucket new a on the fast path"]
        return [
            "denied", "clamped", "no-ttl write", "ttl write", "repeated key in batch", "repeated key in multi", "batch denied", "shadow denial in allowed batch",
            "leaky delay", "sliding retry in window", "peek", "redis TIME", "limits changed on a key", "status (commit=0)",
            "report debt", "report duplicate", "report refund",
        ] + guards.flatMap { ["\($0) < 2^53", "\($0) >= 2^53"] } + edged.flatMap { ["\($0) = 2^53", "\($0) = 2^53 - 1"] }
    }()

    var missing: [String] { Self.required.filter { counts[$0] == nil } }
}

/// Runs script calls on a real redis-server and the same decisions on `ReferenceStore`, and
/// compares every returned number, every stored state, every TTL and the number of writes.
final class ScriptHarness {
    let client: RedisTestClient
    let shas: [String: String]
    var reference = ReferenceStore()
    var coverage = Coverage()
    var steps = 0

    init(client: RedisTestClient) throws {
        self.client = client
        var shas: [String: String] = [:]
        for name in RedisStore.scriptNames {
            guard let source = RedisStore.scriptSource(named: name), let sha = try client.callOK(["SCRIPT", "LOAD", source]).text else {
                throw ScriptMismatch(description: "SCRIPT LOAD \(name) failed")
            }
            shas[name] = sha
        }
        self.shas = shas
    }

    /// Redis's clock in µs.
    func redisNow() throws -> Int64 { try Self.microseconds(client.callOK(["TIME"])) }

    static func microseconds(_ time: RESPValue) throws -> Int64 {
        guard let parts = time.values?.compactMap({ $0.text.flatMap { Int64($0) } }), parts.count == 2 else {
            throw ScriptMismatch(description: "TIME answered \(time)")
        }
        return parts[0] * 1_000_000 + parts[1]
    }

    /// The single-key script's EVALSHA, or `script`'s (e.g. "report") with these arguments.
    func evalsha(_ script: String, _ arguments: [String]) -> [String] {
        ["EVALSHA", shas[script] ?? script] + arguments
    }

    static func singleArguments(_ key: String, _ l: ScriptLimits, cost: Int64, commit: Bool, now: String = "") -> [String] {
        ["1", key] + l.arguments + [String(cost), commit ? "1" : "0", now]
    }

    /// Stores `state` for `key` in the scripts' format (no TTL) and in the reference, as if an
    /// earlier call had written it.
    func inject(_ key: String, _ l: ScriptLimits, _ state: KeyState) throws {
        let pack = "redis.call('SET', KEYS[1], struct.pack('<BI4dI4ddd', unpack(ARGV))) return 1"
        _ = try client.callOK(["EVAL", pack, "1", key] + StoredState.fields(state, l).map { String($0) })
        reference.stored[key] = (l, state)
    }

    /// Which script a step calls: the item's single-key script, the batch script, or the multi
    /// script (each item decided alone, in order, with its own `commit`).
    enum Call { case single, batch, multi }

    /// One script call (`now` nil: the script reads Redis TIME), checked against the reference:
    /// the reply, each involved key's stored value and expiry, and the number of writes. Keys are
    /// made persistent afterwards, so states written at virtual times never expire in real time.
    @discardableResult
    func step(_ items: [ScriptItem], commit: Bool, now: Int64?, as call: Call = .single) throws -> (now: Int64, answers: [ScriptAnswer]) {
        let step = steps
        steps += 1
        let flag = commit ? "1" : "0"
        let nowArgument = now.map { String($0) } ?? ""
        func perItem(_ last: (ScriptItem) -> Bool) -> [String] {
            items.flatMap { [String($0.limits.code)] + $0.limits.arguments + [String($0.cost), last($0) ? "1" : "0"] }
        }
        let command = switch call {
        case .single: evalsha(items[0].limits.script, Self.singleArguments(items[0].key, items[0].limits, cost: items[0].cost, commit: commit, now: nowArgument))
        case .batch: evalsha("batch", [String(items.count)] + items.map(\.key) + [flag, nowArgument] + perItem(\.shadow))
        case .multi: evalsha("multi", [String(items.count)] + items.map(\.key) + [nowArgument] + perItem(\.commit))
        }
        let involved = Array(Set(items.map(\.key))).sorted()
        // One transaction: the write counter around the script, then each key's value and expiry;
        // TIME before and after bound the ms clock at which the script ran its SET ... PX.
        let replies = try client.pipeline(
            [["TIME"], ["MULTI"], ["INFO", "persistence"], command, ["INFO", "persistence"]]
                + involved.flatMap { [["GET", $0], ["PEXPIRETIME", $0], ["PERSIST", $0]] } + [["EXEC"], ["TIME"]])
        let context = "step \(step): now \(now.map(String.init) ?? "TIME") commit \(commit) items "
            + items.map { "\($0.key) \($0.limits) cost \($0.cost)\($0.shadow ? " shadow" : "")\(call == .multi && !$0.commit ? " commit 0" : "")" }
            .joined(separator: "; ")
        guard let exec = replies[replies.count - 2].values, exec.count == 3 + 3 * involved.count,
              let got = exec[1].values?.compactMap(\.int), got.count == exec[1].values?.count
        else { throw ScriptMismatch(description: "\(context): the transaction answered \(replies)") }
        let (before, after) = (try Self.microseconds(replies[0]) / 1000, try Self.microseconds(replies[replies.count - 1]) / 1000)
        let writes = try Self.changes(exec[2]) - Self.changes(exec[0])
        let now = now ?? (got.count > 5 ? got[[Call.single: 5, .batch: 1, .multi: 0][call] ?? 0] : 0)
        if nowArgument.isEmpty {
            guard (before * 1000 - 1000)...(after * 1000 + 1000) ~= now else {
                throw ScriptMismatch(description: "\(context): Redis TIME gave now_us \(now), outside \(before)...\(after) ms")
            }
            coverage.add("redis TIME")
        }
        if call == .single {
            for name in try Self.guardSides(items[0].limits, reference.state(items[0].key, items[0].limits), now: now, cost: items[0].cost) {
                coverage.add(name)
            }
        }
        var (allowed, answers, written) = (true, [ScriptAnswer](), [String: (limits: ScriptLimits, state: KeyState)]())
        var writeCount = 0
        if call == .multi {  // one single-key decision after another; a repeated key is written again
            for item in items {
                let one = try reference.decide([item], commit: item.commit, now: now, batch: false)
                answers += one.answers
                written.merge(one.written) { $1 }
                writeCount += one.written.count
            }
        } else {
            (allowed, answers, written) = try reference.decide(items, commit: commit, now: now, batch: call == .batch)
            writeCount = written.count
        }
        let expected = switch call {
        case .single: answers[0].numbers + [now]
        case .batch: [allowed ? 1 : 0, now] + answers.flatMap(\.numbers)
        case .multi: [now] + answers.flatMap(\.numbers)
        }
        coverage.add("repeated key in multi", call == .multi && involved.count < items.count && items.contains { $0.commit })
        if call == .batch {
            coverage.add("repeated key in batch", involved.count < items.count)
            coverage.add("batch denied", !allowed)
            coverage.add("shadow denial in allowed batch", allowed && answers.contains { !$0.allowed })
        }
        for (item, answer) in zip(items, answers) {
            coverage.add("denied", !answer.allowed)
            coverage.add("peek", item.cost == 0)
            coverage.add("clamped", [answer.resetAfter, answer.retryAfter, answer.delay].contains(maxMicroseconds))
            coverage.add("leaky delay", item.limits.code == ScriptLimits.leaky && answer.delay > 0)
            coverage.add("sliding retry in window", item.limits.code == ScriptLimits.sliding && 0 < answer.retryAfter && answer.retryAfter < item.limits.period - now % item.limits.period)
        }
        coverage.add("status (commit=0)", !commit)
        func fail(_ what: String, _ want: Any, _ actual: Any) -> ScriptMismatch {
            ScriptMismatch(description: "\(context): \(what) differs\n  expected: \(want)\n  got:      \(actual)")
        }
        if got != expected { throw fail("the reply", expected, got) }
        if writes != writeCount { throw fail("the number of writes", writeCount, writes) }
        for (j, key) in involved.enumerated() {
            try checkKey(key, value: exec[3 + 3 * j], expires: exec[4 + 3 * j], written: written[key], now: now, fixedNow: !nowArgument.isEmpty, clock: before...after, fail)
        }
        return (now, answers)
    }

    /// One key after a step: its stored value is the reference's, and its expiry is none (not
    /// written, a caller-set now, or idle only after 2^53 µs) or PX = the time until the state is
    /// idle, rounded up to ms, plus 1 ms, at least 1 s, measured against Redis's `clock` (ms).
    private func checkKey(
        _ key: String, value: RESPValue, expires: RESPValue, written: (limits: ScriptLimits, state: KeyState)?, now: Int64,
        fixedNow: Bool, clock: ClosedRange<Int64>, _ fail: (String, Any, Any) -> ScriptMismatch
    ) throws {
        let stored = value.bytes.map { StoredState.decode($0) ?? [-1] }
        let want = reference.stored[key].map { StoredState.fields($0.state, $0.limits) }
        if stored != want { throw fail("the stored state of \(key)", want as Any, stored as Any) }
        let expires = expires.int ?? -3
        guard let (limits, state) = written else {
            if expires != (want == nil ? -2 : -1) { throw fail("the PEXPIRETIME of \(key) (not written)", want == nil ? -2 : -1, expires) }
            return
        }
        let idle = StoredState.idleAfter(state, now: now, limits)
        if idle <= maxMicroseconds - now {  // the reference agrees: idle then, and not 1 µs before
            let core = try limits.core()
            guard Algorithms.isIdle(state, now: (now + idle) * 1000, limits: core),
                  idle == 0 || !Algorithms.isIdle(state, now: (now + idle - 1) * 1000, limits: core)
            else { throw fail("when \(key) is idle", "after \(idle) µs", "not so by Algorithms.isIdle") }
        }
        if fixedNow || idle >= maxMicroseconds {
            // A caller-set now (virtual time) or a key idle only after 2^53 µs: no TTL.
            coverage.add(idle >= maxMicroseconds ? "no-ttl write" : "no-ttl write (fixed now)")
            if expires != -1 { throw fail("the expiry of \(key) (none)", -1, expires) }
        } else {
            // PX: idle after `idle` µs, rounded up to ms, plus 1 ms; at least 1 s.
            coverage.add("ttl write")
            let ttl = max((idle + 999) / 1000 + 1, 1000)
            if !(expires - clock.upperBound...expires - clock.lowerBound).contains(ttl) {
                throw fail("the TTL of \(key) (idle after \(idle) µs, clock \(clock) ms)", ttl, "\(expires - clock.upperBound)...\(expires - clock.lowerBound)")
            }
        }
    }

    /// `rdb_changes_since_last_save` from an INFO reply: Redis's count of writes.
    static func changes(_ info: RESPValue) throws -> Int {
        let name = "rdb_changes_since_last_save:"
        let line = info.text?.split(whereSeparator: \.isNewline).first { $0.hasPrefix(name) }
        guard let count = line.flatMap({ Int($0.dropFirst(name.count)) }) else { throw ScriptMismatch(description: "INFO answered \(info)") }
        return count
    }
}
