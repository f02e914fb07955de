import NIOCore
import RateLimitCore

/// Single checks that reach one event loop within one tick, gathered to be sent as one call of
/// the `multi` script: each is still decided alone, in arrival order, exactly as the single-key
/// script would. Redis spends much of a small script's cost per call (parsing, dispatch, the
/// reply), and Sluice encodes one command and parses one reply instead of N. A tick with one
/// check sends the single-key script, as before. Not on Cluster, where one call's keys must
/// share a slot. A value type; the store keeps one per event loop.
struct CoalescedChecks {
    struct Check {
        /// The Redis key (`redisKey`).
        var key: String
        var item: StoreItem
        var commit: Bool
        var done: @Sendable (Result<BatchDecision, any Error>) -> Void
    }

    /// Most checks in one script call (its reply has 1 + 5 × this many numbers).
    static let maxPerCall = 64

    private(set) var waiting: [Check] = []

    /// Adds a check; true when it is the first since the last `take` (the caller schedules the send).
    mutating func add(_ check: Check) -> Bool {
        waiting.append(check)
        return waiting.count == 1
    }

    /// Every waiting check, in calls of at most `maxPerCall`, oldest first; none wait after.
    mutating func take() -> [ArraySlice<Check>] {
        let taken = waiting
        waiting = []
        return stride(from: 0, to: taken.count, by: Self.maxPerCall).map { taken[$0..<min($0 + Self.maxPerCall, taken.count)] }
    }
}

extension RedisStore {
    /// Queues one check for this tick's coalesced call (on `eventLoop`, which must be current).
    func coalesce(_ check: CoalescedChecks.Check, in box: NIOLoopBoundBox<CoalescedChecks>, on eventLoop: any EventLoop) {
        guard box.value.add(check) else { return }
        eventLoop.execute {
            for calls in box.value.take() { self.decideCoalesced(calls, on: eventLoop) }
        }
    }

    private func decideCoalesced(_ checks: ArraySlice<CoalescedChecks.Check>, on eventLoop: any EventLoop) {
        guard checks.count > 1 else {
            for check in checks { decideAtOnce([(check.key, check.item)], commit: check.commit, on: eventLoop, done: check.done) }
            return
        }
        let arguments = multiArguments(checks)
        let items = checks.map(\.item)
        evaluate(.multi, arguments, key: arguments[1], on: eventLoop, decode: { reply in try Self.decodeMulti(reply, items: items) }) { result in
            switch result {
            case .success(let decisions):
                for (check, decision) in zip(checks, decisions) {
                    check.done(.success(BatchDecision(allowed: decision.allowed || check.item.shadow, decisions: [decision])))
                }
            case .failure(let error):
                for check in checks { check.done(.failure(error)) }
            }
        }
    }

    /// KEYS and ARGV of the `multi` script.
    func multiArguments(_ checks: ArraySlice<CoalescedChecks.Check>) -> [String] {
        var out = [String(checks.count)]
        out.reserveCapacity(2 + checks.count * 7)
        for check in checks { out.append(check.key) }
        out.append(scriptNow)
        for check in checks {
            let l = check.item.limits
            out += [String(l.algorithm.code), String(l.limit), String(l.period / 1000), String(l.burst), String(check.item.cost), check.commit ? "1" : "0"]
        }
        return out
    }

    /// Each check's decision from the `multi` script's reply, range-checked as every reply is.
    static func decodeMulti(_ reply: RESPValue, items: [StoreItem]) throws -> [Decision] {
        let numbers = try ScriptReply.numbers(reply)
        guard numbers.count == 1 + 5 * items.count else { throw RedisConnectionError.protocolError("multi reply has \(numbers.count) numbers") }
        return try items.enumerated().map { i, item in try ScriptReply.decision(numbers, at: 1 + 5 * i, item: item) }
    }
}
