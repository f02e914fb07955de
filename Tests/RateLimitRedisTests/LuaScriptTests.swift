import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Testing

/// The scripts' contracts that a trace does not show: EVAL and EVALSHA run the same embedded
/// text, calls that must not write do not, written keys live exactly until their state is a new
/// key's, times clamp at 2^53 − 1 µs, and bad arguments are refused with the scripts' error.
@Suite(.enabled(if: redisAvailable), .serialized) struct LuaScriptTests {
    let tokens = ScriptLimits(code: ScriptLimits.token, limit: 10, period: 1_000_000, burst: 5)

    func withScripts(_ body: (ScriptHarness) throws -> Void) throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        try body(try ScriptHarness(client: try RedisTestClient(port: redis.port)))
    }

    func numbers(_ reply: RESPValue) -> [Int64]? { reply.values?.compactMap(\.int) }

    @Test func evalAndEvalshaRunTheSameText() throws {
        try withScripts { h in
            var state: KeyState?
            for i in 0..<4 as Range<Int64> {
                let now = 1_000_000_000_000_000 + i * 1000
                let a = try h.client.callOK(
                    ["EVAL", RedisStore.scriptSource(named: "tokenBucket") ?? ""]
                        + ScriptHarness.singleArguments("sluice:{eval}:a", tokens, cost: 2, commit: true, now: String(now)))
                let b = try h.client.callOK(
                    h.evalsha("tokenBucket", ScriptHarness.singleArguments("sluice:{eval}:b", tokens, cost: 2, commit: true, now: String(now))))
                let s = try ReferenceStore.step(state, now: now, cost: 2, tokens)
                if s.decision.allowed { state = s.next }
                #expect(numbers(a) == ScriptAnswer(s.decision).numbers + [now])
                #expect(a == b)
            }
            #expect(state != nil)
            // EVAL caches the text under its SHA1: the one SCRIPT LOAD gave for the same text.
            for name in RedisStore.scriptNames {
                _ = try h.client.callOK(["SCRIPT", "FLUSH"])
                _ = try h.client.call("EVAL", RedisStore.scriptSource(named: name) ?? "", "0")  // refused (no keys): compiled and cached
                #expect(try h.client.callOK(["SCRIPT", "EXISTS", h.shas[name] ?? ""]).values == [.integer(1)], "\(name)")
            }
        }
    }

    /// Denials, peeks and commit=0 leave value and TTL as they were (real TTLs, nothing persisted).
    @Test func callsThatConsumeNothingWriteNothing() throws {
        try withScripts { h in
            let key = "sluice:{nowrite}:a"
            let l = ScriptLimits(code: ScriptLimits.fixed, limit: 2, period: 3_600_000_000, burst: 2)
            let first = try h.client.callOK(h.evalsha("fixedWindow", ScriptHarness.singleArguments(key, l, cost: 2, commit: true)))
            #expect(numbers(first)?.prefix(2) == [1, 0])
            let value = try h.client.callOK(["GET", key]).bytes
            let ttl = try h.client.callOK(["PTTL", key]).int ?? 0
            #expect(value != nil && ttl > 0)
            let before = try ScriptHarness.changes(h.client.callOK(["INFO", "persistence"]))
            let other = ["1", "5", "1000000", "5", "1", "0"]
            for command in [
                h.evalsha("fixedWindow", ScriptHarness.singleArguments(key, l, cost: 1, commit: true)),  // denied
                h.evalsha("fixedWindow", ScriptHarness.singleArguments(key, l, cost: 0, commit: true)),  // peek
                h.evalsha("fixedWindow", ScriptHarness.singleArguments(key, l, cost: 1, commit: false)),  // status
                h.evalsha("batch", ["2", key, "sluice:{nowrite}:b", "1", "", "3", "2", String(l.period), "2", "1", "0"] + other),  // denied batch
                h.evalsha("batch", ["1", "sluice:{nowrite}:c", "0", ""] + other),  // allowed, commit=0
                h.evalsha("multi", ["2", key, "sluice:{nowrite}:c", "", "3", "2", String(l.period), "2", "1", "1"] + other),  // denied; allowed, commit=0
            ] {
                #expect(try h.client.callOK(command).values != nil)
            }
            #expect(try ScriptHarness.changes(h.client.callOK(["INFO", "persistence"])) == before)
            #expect(try h.client.callOK(["GET", key]).bytes == value)
            let later = try h.client.callOK(["PTTL", key]).int ?? 0
            #expect(later > 0 && later <= ttl)
            #expect(try h.client.callOK(["EXISTS", "sluice:{nowrite}:b", "sluice:{nowrite}:c"]).int == 0)
        }
    }

    /// A key written on Redis's clock expires when its state is a new key's: the harness checks
    /// that PX is reset_after rounded up to ms plus 1 ms (at least 1 s), and at that instant (on
    /// the scripts' now_us, no sleeping) the stored state answers as a new key, as a missing key
    /// does; 1 µs earlier it does not.
    @Test func writtenKeysLiveUntilTheirStateIsNew() throws {
        try withScripts { h in
            let rules = [
                ScriptLimits(code: ScriptLimits.token, limit: 1, period: 40_000, burst: 1),
                ScriptLimits(code: ScriptLimits.sliding, limit: 3, period: 15_000_000, burst: 3),
                ScriptLimits(code: ScriptLimits.fixed, limit: 3, period: 30_000_000, burst: 3),
                ScriptLimits(code: ScriptLimits.leaky, limit: 2, period: 30_000_000, burst: 1),
            ]
            for l in rules {
                let key = "sluice:{expiry}:\(l.code)"
                let capacity = try l.core().capacity
                let (now, answers) = try h.step([ScriptItem(key: key, limits: l, cost: capacity)], commit: true, now: nil)
                let reset = answers[0].resetAfter  // the harness checked PX against it (and then persisted the key)
                #expect(reset > 0)
                let fresh = ScriptAnswer(try ReferenceStore.step(nil, now: now + reset, cost: 0, l).decision).numbers + [now + reset]
                let peek = { (at: Int64) in try h.client.callOK(h.evalsha(l.script, ScriptHarness.singleArguments(key, l, cost: 0, commit: false, now: String(at)))) }
                #expect(numbers(try peek(now + reset)) == fresh, "\(l): at its expiry the state is a new key's")
                #expect(numbers(try peek(now + reset - 1)) != fresh.dropLast() + [now + reset - 1], "\(l): 1 µs earlier it is not")
                _ = try h.client.callOK(["DEL", key])  // what the expiry does
                #expect(numbers(try peek(now + reset)) == fresh, "\(l): a missing key answers as a new key")
            }
        }
    }

    /// A TAT 1e9 × 366 days ahead: reset_after is clamped to 2^53 − 1 µs and the key has no TTL.
    @Test func timesPast2To53ClampAndKeepNoTTL() throws {
        try withScripts { h in
            let key = "sluice:{clamp}:a"
            let l = ScriptLimits(code: ScriptLimits.token, limit: 1, period: maxPeriodMicroseconds, burst: Limits.maxLimit)
            let now = "1800000000000000"
            let first = try h.client.callOK(h.evalsha("tokenBucket", ScriptHarness.singleArguments(key, l, cost: Limits.maxLimit, commit: true, now: now)))
            #expect(numbers(first) == [1, 0, maxMicroseconds, 0, 0, 1_800_000_000_000_000])
            _ = try h.client.callOK(["PERSIST", key])
            let again = try h.client.callOK(h.evalsha("tokenBucket", ScriptHarness.singleArguments("sluice:{clamp}:b", l, cost: Limits.maxLimit, commit: true)))
            #expect(numbers(again)?[2] == maxMicroseconds)
            #expect(try h.client.callOK(["PTTL", "sluice:{clamp}:b"]).int == -1, "a key idle only after 2^53 µs has no TTL, even on Redis's clock")
            let denied = try h.client.callOK(h.evalsha("tokenBucket", ScriptHarness.singleArguments(key, l, cost: 1, commit: true, now: now)))
            #expect(numbers(denied) == [0, 0, maxMicroseconds, maxPeriodMicroseconds, 0, 1_800_000_000_000_000])
        }
    }

    @Test func badArgumentsAreRefusedWithTheScriptsError() throws {
        try withScripts { h in
            let period = "1000000"
            let bad: [(String, [String])] = [
                ("tokenBucket", ["1", "k", "0", period, "10", "1", "1", ""]),  // limit 0
                ("tokenBucket", ["1", "k", "10", "999", "10", "1", "1", ""]),  // period under 1 ms
                ("tokenBucket", ["1", "k", "10", String(maxPeriodMicroseconds + 1), "10", "1", "1", ""]),
                ("tokenBucket", ["1", "k", "10", period, "10", "1.5", "1", ""]),
                ("tokenBucket", ["1", "k", "10", period, "10", "1", "yes", ""]),
                ("tokenBucket", ["1", "k", "10", period, "10", "1", "1", "9007199254740992"]),  // now_us 2^53
                ("tokenBucket", ["1", "k", "10", period, "10", "1", "1"]),  // too few arguments
                ("batch", ["1", "k", "1", "", "5", "10", period, "10", "1", "0"]),  // unknown algorithm code
                ("batch", ["2", "k", "j", "1", "", "1", "10", period, "10", "1", "0"]),  // too few arguments
                ("multi", ["2", "k", "j", "", "1", "10", period, "10", "1", "1"]),  // too few arguments
                ("multi", ["1", "k", "", "1", "10", period, "10", "1", "2"]),  // commit neither 1 nor 0
                ("report", ["1", "k", "1", "10", period, "10", String(Limits.maxLimit + 1), "", "1000"]),  // cost over 1e9
            ]
            let expected = [
                "ARGV[1] must be an integer from 1 to 1000000000, got 0", "ARGV[2] must be an integer from 1000 to 31622400000000, got 999",
                "ARGV[2] must be an integer from 1000 to 31622400000000, got 31622400000001", "ARGV[4] must be an integer from 0 to 1000000000, got 1.5",
                "ARGV[5] must be 1 or 0, got yes", "ARGV[6] must be an integer from 0 to 9007199254740991, got 9007199254740992",
                "expects 1 key and 6 arguments", "ARGV[3] must be an integer from 1 to 4, got 5", "expects N keys and 2 + 6N arguments",
                "expects N keys and 1 + 6N arguments", "ARGV[7] must be 1 or 0, got 2",
                "ARGV[5] must be an integer from -1000000000 to 1000000000, got 1000000001",
            ]
            for ((script, arguments), message) in zip(bad, expected) {
                let reply = try h.client.pipeline([h.evalsha(script, arguments)])[0]
                guard case .error(let error) = reply else {
                    Issue.record("\(script) \(arguments): expected an error, got \(reply)")
                    continue
                }
                #expect(error.contains("sluice: " + message), "\(script) \(arguments): \(error)")
            }
            #expect(try h.client.callOK(["EXISTS", "k", "j"]).int == 0, "a refused call wrote")
            _ = try h.client.callOK(["SCRIPT", "FLUSH"])
            let flushed = try h.client.pipeline([h.evalsha("batch", ["1", "k", "1", "", "1", "10", period, "10", "1", "0"])])[0]
            #expect(flushed.errorMessage?.hasPrefix("NOSCRIPT") == true)
        }
    }
}

extension RESPValue {
    var errorMessage: String? { if case .error(let message) = self { message } else { nil } }
}
