public import NIOCore
public import RateLimitCore

/// Concurrency rules in Redis (issue 15): the lease scripts' arguments and replies. In a batch,
/// the batch script decides concurrency items with the others (`RedisStore.decode`).
extension RedisStore {
    /// A concurrency key's two Redis keys (see `Lua/lease_functions.lua`), beside its state key.
    static func leaseKeys(_ stateKey: String) -> [String] {
        [stateKey + ":leases", stateKey + ":ids"]
    }

    /// One check on a concurrency rule (the acquire script); `item` with its Redis key.
    func acquire(
        _ item: (String, StoreItem), commit: Bool, on eventLoop: any EventLoop,
        done: @escaping @Sendable (Result<BatchDecision, any Error>) -> Void
    ) {
        let (key, stored) = item
        let l = stored.limits
        let now = scriptNow
        let arguments = ["2"] + Self.leaseKeys(key) + [String(l.limit), String(l.period / 1000), String(stored.cost), commit ? "1" : "0", now]
        evaluate(.leaseAcquire, arguments, key: arguments[1], on: eventLoop, decode: { reply in
            let n = try Self.integers(reply, count: 6)
            var decision = try ScriptReply.decision([n[0], n[1], n[2], n[3], 0], at: 0, item: stored)
            if n[4] != 0 {
                guard commit, decision.allowed, (1...ScriptReply.maxMicroseconds).contains(n[4]) else {
                    throw RedisConnectionError.protocolError("the acquire script returned lease = \(n[4])")
                }
                decision.lease = GrantedLease(id: UInt64(n[4]), expiresAfter: l.period)
            }
            return BatchDecision(allowed: decision.allowed || stored.shadow, decisions: [decision])
        }, done: done)
    }

    /// Frees one lease (the release script); Redis alone can: whatever `on_failure` says, a
    /// release Redis cannot answer fails (the lease then expires at its `lease_ttl`).
    public func release(_ check: PreparedCheck, lease: UInt64, on eventLoop: any EventLoop) -> EventLoopFuture<Result<Decision, LeaseSet.ReleaseError>> {
        // The scripts grant ids below 2^53 (the clock in µs, counting up): a larger one was never granted.
        guard let item = check.item, lease <= UInt64(ScriptReply.maxMicroseconds) else {
            return eventLoop.makeSucceededFuture(.failure(.unknown(lease)))
        }
        let now = scriptNow
        let arguments = ["2"] + Self.leaseKeys(redisKey(rule: check.rule, item)) + [String(lease), String(item.limits.limit), now]
        return evaluate(.leaseRelease, arguments, key: arguments[1], on: eventLoop) { reply -> Result<Decision, LeaseSet.ReleaseError> in
            let n = try Self.integers(reply, count: 4)
            switch n[0] {
            case 1: return .success(try ScriptReply.decision([1, n[1], n[2], 0, 0], at: 0, item: item))
            case 2: return .failure(.notHeld(lease))
            case 3: return .failure(.unknown(lease))
            default: throw RedisConnectionError.protocolError("the release script returned outcome \(n[0])")
            }
        }
        .flatMapErrorThrowing { error in
            self.noteFailure(error)
            throw BackendUnavailable(reason: "\(error)", release: true)
        }
        .hop(to: eventLoop)
    }

    /// A script reply of exactly `count` integers.
    static func integers(_ reply: RESPValue, count: Int) throws -> [Int64] {
        let numbers = try ScriptReply.numbers(reply)
        guard numbers.count == count else { throw RedisConnectionError.protocolError("the script returned \(numbers.count) numbers, not \(count)") }
        return numbers
    }
}
