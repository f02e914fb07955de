public import Logging
public import NIOCore
public import RateLimitCore
import Synchronization

/// Settings of the Redis store beyond where Redis is.
public struct RedisStoreOptions: Sendable {
    /// Per-command deadline: past it the failure policy answers.
    public var timeout: TimeAmount = .milliseconds(20)
    public var connectTimeout: TimeAmount = .seconds(1)
    public var onFailure: FailurePolicy = .local
    /// Consecutive failures that open the circuit breaker, and how long it stays open.
    public var breakerThreshold = 5
    public var breakerOpen: TimeAmount = .seconds(1)
    /// Once Redis says "denied until T", deny that key (for that cost or more) locally until T,
    /// but for at most `cacheDenialsFor`: a reset through another replica is seen within that.
    public var cacheDenials = true
    public var cacheDenialsFor: TimeAmount = .seconds(1)
    /// First part of every Redis key.
    public var keyPrefix = "sluice"
    /// How often the background PING runs (keeps `backend_up` and readiness current).
    public var healthInterval: TimeAmount = .seconds(1)
    /// Tests only: the time handed to the scripts instead of Redis `TIME`.
    public var scriptClock: (any NanosecondClock)?

    public init() {}
}

/// Decides with the Lua scripts in Redis, shared by every replica. When Redis fails or is
/// slow, the circuit breaker and `onFailure` decide; `local` falls back to `fallback`.
public final class RedisStore: Sendable {
    let options: RedisStoreOptions
    let fallback: MemoryStore
    let clock: any NanosecondClock
    let observer: (any BackendObserver)?
    let logger: Logger
    private let route: any RedisRoute
    /// True on Cluster, where a batch over several slots is split by slot (`decideAcrossSlots`).
    private let splitsBySlot: Bool
    private let healthLoop: any EventLoop
    /// The group's event loops by identity, for a caller's `affinity`.
    private let loops: [ObjectIdentifier: any EventLoop]
    /// Each event loop's single checks waiting for this tick's coalesced call (none on Cluster).
    private let coalescing: [ObjectIdentifier: NIOLoopBoundBox<CoalescedChecks>]
    private let breaker: Mutex<CircuitBreaker>
    private let shas = ScriptSHAs()
    private let denials = Mutex<[ExactKey: CachedDenial]>([:])
    private let up = Atomic<Bool>(false)
    private let health: Mutex<RepeatedTask?> = Mutex(nil)

    struct CachedDenial {
        var decision: Decision
        var decidedAt: Nanoseconds
        var cost: Int64
    }

    /// Entries in the over-limit cache before expired ones are purged.
    static let maxCachedDenials = 100_000

    /// - Parameters:
    ///   - group: one connection is made per event loop of `group`.
    ///   - fallback: the in-memory store used by `on_failure: local`.
    /// - Throws: when `endpoint.tls` names a file that cannot be used.
    public init(
        endpoint: RedisEndpoint, options: RedisStoreOptions, group: any EventLoopGroup, fallback: MemoryStore,
        clock: any NanosecondClock, observer: (any BackendObserver)?, logger: Logger
    ) throws(RedisTLS.Problem) {
        let tlsContext = try endpoint.tls?.makeContext()
        self.options = options
        self.fallback = fallback
        self.clock = clock
        self.observer = observer
        self.logger = logger
        self.breaker = Mutex(CircuitBreaker(failureThreshold: options.breakerThreshold, openDuration: options.breakerOpen.nanoseconds))
        (route, splitsBySlot) = Self.route(
            to: endpoint, tlsContext: tlsContext, group: group, options: options, shas: shas)
        healthLoop = group.next()
        loops = Dictionary(group.makeIterator().map { (ObjectIdentifier($0), $0) }, uniquingKeysWith: { first, _ in first })
        coalescing = splitsBySlot ? [:] : loops.mapValues { NIOLoopBoundBox.makeBoxSendingValue(CoalescedChecks(), eventLoop: $0) }
    }

    /// True while Redis answers (the last call or health probe succeeded).
    public var isUp: Bool { up.load(ordering: .relaxed) }

    /// Whether `/readyz` should say ready: always, unless the policy is `deny` and Redis is down
    /// (then every check would be a 503, and the pod should not receive traffic).
    public var isUsable: Bool { options.onFailure != .deny || isUp }

    /// Starts the background health probe (PING every `healthInterval`).
    public func start() {
        let route = self.route
        let loop = healthLoop
        let task = loop.scheduleRepeatedAsyncTask(initialDelay: .zero, delay: options.healthInterval) { _ in
            let ping = route.send(["PING"], key: nil, timeout: max(self.options.timeout, .milliseconds(250)), on: loop)
            return self.timed("ping", ping.flatMapThrowing(Self.checked))
                .map { _ in () }
                .recover { error in self.noteFailure(error) }
        }
        health.withLock { $0 = task }
        route.watch(on: loop)
    }

    /// Connects and PINGs once: nil when Redis answered, else why not. For the start, where a
    /// TLS failure with `on_failure: deny` is a configuration error rather than an outage.
    public func firstContact() async -> RedisConnectionError? {
        do {
            _ = try await route.send(["PING"], key: nil, timeout: options.connectTimeout, on: healthLoop).get()
            return nil
        } catch let error as RedisConnectionError {
            return error
        } catch {
            return .unavailable("\(error)")
        }
    }

    /// Stops the probe and closes every connection.
    public func shutdown() async {
        health.withLock { $0?.cancel(); $0 = nil }
        await route.close()
    }

    /// The event loop `affinity` names (a caller on one of the group's loops uses that loop's
    /// connections and is answered there); the health probe's loop for any other caller.
    func eventLoop(for affinity: ObjectIdentifier?) -> any EventLoop {
        affinity.flatMap { loops[$0] } ?? healthLoop
    }

    // MARK: deciding

    /// Decides the checks that have a store item (in order), as one atomic script call.
    /// Fails only with `BackendUnavailable` (policy `deny`).
    public func decide(_ checks: [PreparedCheck], commit: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<BatchDecision> {
        eventLoop.future { decide(checks, commit: commit, on: eventLoop, done: $0) }
    }

    /// The same, answered to `done` (exactly once, on any thread): the pipeline's path, with
    /// no future or promise while Redis answers in one script call.
    func decide(
        _ checks: [PreparedCheck], commit: Bool, on eventLoop: any EventLoop,
        done: @escaping @Sendable (Result<BatchDecision, any Error>) -> Void
    ) {
        // Each item with its Redis key.
        let items = checks.compactMap { check in check.item.map { (redisKey(rule: check.rule, $0), $0) } }
        if items.isEmpty { return done(.success(BatchDecision(allowed: true, decisions: []))) }
        let now = clock.now
        // A single check's key in the over-limit cache, looked up before and filled after.
        let cacheKey = commit && items.count == 1 && options.cacheDenials ? ExactKey(items[0].0) : nil
        if let cacheKey, let cached = cachedDenial(cacheKey, items[0].1, now: now) {
            observer?.cachedDenial()
            return done(.success(BatchDecision(allowed: false, decisions: [cached])))
        }
        guard breaker.withLock({ $0.allow(now: now) }) else {
            return done(policy(items.map(\.1), commit: commit, reason: "circuit breaker open"))
        }
        let answer: @Sendable (Result<BatchDecision, any Error>) -> Void = { result in
            switch result {
            case .success(let decision):
                if let cacheKey, !decision.allowed { self.cache(cacheKey, items[0].1, decision.decisions[0], now: now) }
                done(.success(decision))
            case .failure(let error):
                self.noteFailure(error)
                done(self.policy(items.map(\.1), commit: commit, reason: "\(error)"))
            }
        }
        if splitsBySlot, items.count > 1 {
            decideBySlot(items, commit: commit, on: eventLoop).whenComplete(answer)
        } else if items.count == 1, items[0].1.limits.algorithm != .concurrency, let box = coalescing[ObjectIdentifier(eventLoop)],
                  eventLoop.inEventLoop {  // the multi script decides the four algorithms, not leases
            coalesce(CoalescedChecks.Check(key: items[0].0, item: items[0].1, commit: commit, done: answer), in: box, on: eventLoop)
        } else {
            decideAtOnce(items, commit: commit, on: eventLoop, done: answer)
        }
    }

    /// One script call over `items`, each with its Redis key (all on one slot, or on a server
    /// without slots).
    func decideAtOnce(_ items: [(String, StoreItem)], commit: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<BatchDecision> {
        eventLoop.future { decideAtOnce(items, commit: commit, on: eventLoop, done: $0) }
    }

    func decideAtOnce(
        _ items: [(String, StoreItem)], commit: Bool, on eventLoop: any EventLoop,
        done: @escaping @Sendable (Result<BatchDecision, any Error>) -> Void
    ) {
        if items.count == 1, items[0].1.limits.algorithm == .concurrency { return acquire(items[0], commit: commit, on: eventLoop, done: done) }
        let script: Script = items.count == 1 ? Script(items[0].1.limits.algorithm) : .batch
        let arguments = self.arguments(items, commit: commit)
        let stored = items.map(\.1)
        evaluate(script, arguments, key: arguments[1], on: eventLoop, decode: { reply in
            try Self.decode(reply, items: stored, batch: script == .batch)
        }, done: done)
    }

    /// Forgets one key's state in Redis (and in the local fallback).
    public func reset(_ check: PreparedCheck, on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard let item = check.item else { return eventLoop.makeSucceededVoidFuture() }
        let key = redisKey(rule: check.rule, item)
        _ = denials.withLock { $0.removeValue(forKey: ExactKey(key)) }
        fallback.reset(slot: item.slot, key: item.key)
        let keys = item.limits.algorithm == .concurrency ? Self.leaseKeys(key) : [key]
        return timed("del", route.send(["DEL"] + keys, key: key, timeout: options.timeout, on: eventLoop).flatMapThrowing(Self.checked))
            .map { _ in () }
            .flatMapErrorThrowing { error in
                self.noteFailure(error)
                throw BackendUnavailable(reason: "\(error)", reset: true)
            }
            .hop(to: eventLoop)
    }

    /// Records reports in Redis, in order, each one atomic with its id (the report script).
    /// When Redis cannot answer: `deny` fails, `allow` answers a fresh key's state and records
    /// nothing, `local` records in the fallback memory store (without the id).
    public func report(_ reports: [PreparedReport], on eventLoop: any EventLoop) -> EventLoopFuture<[Report]> {
        var chain = eventLoop.makeSucceededFuture([Report]())
        for check in reports {
            guard let item = check.item else { continue }
            chain = chain.flatMap { done in self.report(rule: check.rule, item, id: check.id, on: eventLoop).map { done + [$0] } }
        }
        return chain
    }

    private func report(rule: String, _ item: StoreItem, id: String?, on eventLoop: any EventLoop) -> EventLoopFuture<Report> {
        let now = clock.now
        // A cached denial may no longer hold once usage changed (a refund, above all).
        if item.cost != 0 { _ = denials.withLock { $0.removeValue(forKey: ExactKey(redisKey(rule: rule, item))) } }
        let fallback: @Sendable (String) throws -> Report = { reason in
            self.observer?.fallback(self.options.onFailure)
            switch self.options.onFailure {
            case .deny: throw BackendUnavailable(reason: reason)
            case .allow:
                var report = Algorithms.report(nil, now: now, cost: 0, limits: item.limits).report
                report.store = .failurePolicy
                return report
            case .local:
                var report = self.fallback.report(item, now: now, apply: true)
                report.store = .localFallback
                return report
            }
        }
        guard breaker.withLock({ $0.allow(now: now) }) else { return eventLoop.makeCompletedFuture { try fallback("circuit breaker open") } }
        let arguments = reportArguments(rule: rule, item, id: id)
        return evaluate(.report, arguments, key: arguments[1], on: eventLoop) { reply in
            try Self.decodeReport(reply, item: item)
        }
        .flatMapErrorThrowing { error in
            self.noteFailure(error)
            return try fallback("\(error)")
        }
        .hop(to: eventLoop)
    }

    /// EVALSHA, or EVAL when the script's SHA is unknown or Redis forgot it (NOSCRIPT). `decode`
    /// runs inside the timing, so a reply outside the scripts' contract counts as an error, not
    /// as a success that closes the circuit breaker (red team 2, F1).
    func evaluate<Answer: Sendable>(
        _ script: Script, _ arguments: [String], key: String, on eventLoop: any EventLoop,
        decode: @escaping @Sendable (RESPValue) throws -> Answer
    ) -> EventLoopFuture<Answer> {
        eventLoop.future { evaluate(script, arguments, key: key, on: eventLoop, decode: decode, done: $0) }
    }

    func evaluate<Answer: Sendable>(
        _ script: Script, _ arguments: [String], key: String, on eventLoop: any EventLoop,
        decode: @escaping @Sendable (RESPValue) throws -> Answer, done: @escaping @Sendable (Result<Answer, any Error>) -> Void
    ) {
        let timeout = options.timeout
        let eval: @Sendable () -> Void = {
            let started = NIODeadline.now()
            self.route.send(["EVAL", script.source] + arguments, key: key, timeout: timeout, on: eventLoop) { reply in
                done(self.timed("eval", since: started, reply.flatMap { reply in Result { try decode(Self.checked(reply)) } }))
            }
        }
        guard let sha = shas[script] else { return eval() }
        let started = NIODeadline.now()
        route.send(["EVALSHA", sha] + arguments, key: key, timeout: timeout, on: eventLoop) { reply in
            if case .success(.error(let message)) = reply, message.hasPrefix("NOSCRIPT") {  // answered: EVAL follows
                _ = self.timed("evalsha", since: started, Result<Void, any Error>.success(()))
                return eval()
            }
            done(self.timed("evalsha", since: started, reply.flatMap { reply in Result { try decode(Self.checked(reply)) } }))
        }
    }

    private static func checked(_ reply: RESPValue) throws -> RESPValue {
        if case .error(let message) = reply { throw RedisErrorReply(message: message) }
        return reply
    }

    /// Counts and times one Redis operation, and keeps `up` and the breaker current: a usable
    /// answer is "ok"; an error reply or a reply outside the contract "error". An error reply
    /// (CROSSSLOT, WRONGTYPE, NOSCRIPT …) proves the connection works: for the breaker it is a
    /// success, never a failure.
    private func timed<T: Sendable>(_ operation: String, _ future: EventLoopFuture<T>) -> EventLoopFuture<T> {
        let started = NIODeadline.now()
        future.whenComplete { result in _ = self.timed(operation, since: started, result) }
        return future
    }

    /// Counts and times one operation that started at `started` and ended with `result`
    /// (returned, for chaining).
    private func timed<T>(_ operation: String, since started: NIODeadline, _ result: Result<T, any Error>) -> Result<T, any Error> {
        let seconds = Double((NIODeadline.now() - started).nanoseconds) / 1e9
        let status: String
        switch result {
        case .success: status = "ok"
        case .failure(RedisConnectionError.timeout): status = "timeout"
        case .failure(RedisConnectionError.protocolError), .failure(is RedisErrorReply): status = "error"
        case .failure: status = "unavailable"
        }
        observer?.operation(operation, status: status, seconds: seconds)
        if status == "ok" || result.isErrorReply {
            breaker.withLock { $0.recordSuccess() }
            setUp(true)
        }
        return result
    }

    func noteFailure(_ error: any Error) {
        if error is RedisErrorReply { return }  // Redis answered: neither down nor a breaker failure
        let now = clock.now
        breaker.withLock { $0.recordFailure(now: now) }
        if case RedisConnectionError.protocolError = error { return }  // Redis answered: it is up
        setUp(false)
    }

    private func setUp(_ value: Bool) {
        if up.exchange(value, ordering: .relaxed) != value {
            observer?.backendUp(value)
            if value {
                logger.notice("redis backend is up")
            } else {
                logger.warning("redis backend is down; on_failure applies", metadata: ["on_failure": "\(options.onFailure.rawValue)"])
            }
        }
    }

    /// The answer when Redis cannot give one.
    private func policy(_ items: [StoreItem], commit: Bool, reason: String) -> Result<BatchDecision, any Error> {
        observer?.fallback(options.onFailure)
        switch options.onFailure {
        case .allow:
            return .success(BatchDecision(allowed: true, decisions: items.map { item in
                var decision = Decision(allowed: true, limit: item.limits.limit, period: item.limits.period, remaining: item.limits.limit)
                decision.store = .failurePolicy
                return decision
            }))
        case .deny:
            return .failure(BackendUnavailable(reason: reason))
        case .local:
            var batch: BatchDecision
            if items.count == 1, let item = items.first {
                let decision = fallback.decide(item, now: clock.now, commit: commit)
                batch = BatchDecision(allowed: decision.allowed || item.shadow, decisions: [decision])
            } else {
                batch = fallback.decideBatch(items, now: clock.now, commit: commit)
            }
            for i in batch.decisions.indices { batch.decisions[i].store = .localFallback }
            return .success(batch)
        }
    }

    // MARK: the over-limit cache

    /// `key`: the item's Redis key.
    private func cachedDenial(_ key: ExactKey, _ item: StoreItem, now: Nanoseconds) -> Decision? {
        // Never a concurrency rule's: a release (on any pod) frees a lease before `retryAfter`.
        guard options.cacheDenials, item.cost > 0, item.limits.algorithm != .concurrency else { return nil }
        return denials.withLock { cache -> Decision? in
            guard let entry = cache[key] else { return nil }
            let elapsed = now - entry.decidedAt
            guard elapsed < min(entry.decision.retryAfter, options.cacheDenialsFor.nanoseconds) else {
                cache.removeValue(forKey: key)
                return nil
            }
            guard item.cost >= entry.cost else { return nil }
            var decision = entry.decision
            decision.store = .cachedDenial
            decision.retryAfter -= elapsed
            decision.resetAfter = max(decision.resetAfter - elapsed, 0)
            return decision
        }
    }

    private func cache(_ key: ExactKey, _ item: StoreItem, _ decision: Decision, now: Nanoseconds) {
        guard options.cacheDenials, decision.retryAfter > 0, item.cost > 0, item.limits.algorithm != .concurrency else { return }
        denials.withLock { cache in
            if cache.count >= Self.maxCachedDenials {
                cache = cache.filter { now - $0.value.decidedAt < $0.value.decision.retryAfter }
                if cache.count >= Self.maxCachedDenials { cache.removeAll(keepingCapacity: true) }
            }
            cache[key] = CachedDenial(decision: decision, decidedAt: now, cost: item.cost)
        }
    }

    /// Entries in the over-limit cache (for tests and sweeps).
    public var cachedDenialCount: Int { denials.withLock { $0.count } }

    /// Drops expired over-limit cache entries.
    public func sweep() {
        let now = clock.now
        denials.withLock { cache in cache = cache.filter { now - $0.value.decidedAt < $0.value.decision.retryAfter } }
    }
}
