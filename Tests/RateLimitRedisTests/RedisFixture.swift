import Logging
import NIOCore
import NIOPosix
import RateLimitCore
import RateLimitRedis
import RateLimitTestSupport
import Synchronization
import Testing

/// Tests that need redis-server run when it is installed, and must run under SLUICE_REQUIRE_TOOLS=1.
let redisAvailable = RedisServerProcess.executable != nil || RedisServerProcess.toolsRequired

let ms: Int64 = 1_000_000
let second: Int64 = 1_000_000_000

func rule(_ name: String, _ algorithm: Algorithm, _ limit: Int64, per period: Int64, burst: Int64? = nil, shadow: Bool = false) -> Rule {
    // Test inputs are constants chosen to be valid.
    try! Rule(name: name, limits: Limits(algorithm: algorithm, limit: limit, period: period, burst: burst), shadow: shadow)
}

/// Counts what a store reports, for assertions.
final class RecordingObserver: BackendObserver {
    struct Counts: Sendable {
        var operations: [String: Int] = [:]
        var fallbacks: [FailurePolicy: Int] = [:]
        var cachedDenials = 0
        var up: [Bool] = []
    }

    let counts = Mutex(Counts())

    func operation(_ operation: String, status: String, seconds: Double) {
        counts.withLock { $0.operations["\(operation)/\(status)", default: 0] += 1 }
    }
    func backendUp(_ up: Bool) { counts.withLock { $0.up.append(up) } }
    func fallback(_ policy: FailurePolicy) { counts.withLock { $0.fallbacks[policy, default: 0] += 1 } }
    func cachedDenial() { counts.withLock { $0.cachedDenials += 1 } }

    var snapshot: Counts { counts.withLock { $0 } }
}

/// A limiter whose checks are decided by a `RedisStore` on a real redis-server.
struct RedisLimiter {
    let limiter: RateLimiter
    let store: RedisStore
    let group: MultiThreadedEventLoopGroup
    let observer = RecordingObserver()

    init(
        redis: RedisServerProcess, rules: [Rule], clock: any NanosecondClock, policy: FailurePolicy = .deny,
        timeout: TimeAmount = .seconds(2), scriptClock: (any NanosecondClock)? = nil, cacheDenials: Bool = false,
        endpoint: RedisEndpoint? = nil, connectTimeout: TimeAmount = .milliseconds(500)
    ) throws {
        limiter = RateLimiter(rules: try RuleSet(rules), clock: clock)
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var options = RedisStoreOptions()
        options.timeout = timeout
        options.connectTimeout = connectTimeout
        options.onFailure = policy
        options.scriptClock = scriptClock
        options.cacheDenials = cacheDenials
        options.breakerOpen = .milliseconds(200)
        store = try RedisStore(
            endpoint: try endpoint ?? RedisEndpoint(url: redis.url), options: options, group: group, fallback: limiter.store, clock: clock,
            observer: observer, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    var loop: any EventLoop { group.next() }

    /// The production entry point: the pipeline with this store as its remote.
    var pipeline: DecisionPipeline { DecisionPipeline(limiter: limiter, remote: store) }

    func check(_ rule: String, _ key: String, cost: Int64 = 1, commit: Bool = true) async throws -> Decision {
        let verdict = try await decide(.one(CheckRequest(rule: rule, key: key, cost: cost)), commit: commit)
        guard case .one(let decision) = verdict else { throw PipelineError.invalid(.emptyBatch) }
        return decision
    }

    func check(batch requests: [CheckRequest], commit: Bool = true) async throws -> BatchDecision {
        try await decide(.batch(requests), commit: commit).batch
    }

    /// Reports through the pipeline (the Redis report script).
    func report(_ requests: [ReportRequest]) async throws -> [Report] {
        try await run(pipeline.report(requests))
    }

    /// Frees a lease through the pipeline (the Redis release script).
    func release(_ request: ReleaseRequest) async throws -> Decision {
        try await run(pipeline.release(request))
    }

    /// Decides through the pipeline.
    func decide(_ checks: Checks, commit: Bool) async throws -> Verdict {
        try await run(pipeline.decide(checks, commit: commit))
    }

    /// Decides single checks that all arrive in one event-loop tick, as concurrent requests on
    /// one connection do (the store coalesces them); their answers, in order.
    func decideTogether(_ requests: [(CheckRequest, commit: Bool)]) async throws -> [Decision] {
        let loop = self.loop
        let pipeline = self.pipeline
        let results = await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Verdict, PipelineError>], Never>) in
            loop.execute {
                let answers = NIOLoopBoundBox([Result<Verdict, PipelineError>?](repeating: nil, count: requests.count), eventLoop: loop)
                let finished = NIOLoopBoundBox(requests.count, eventLoop: loop)
                for (i, (request, commit)) in requests.enumerated() {
                    guard case .later(let call) = pipeline.decide(.one(request), commit: commit) else { continue }
                    call.run(affinity: ObjectIdentifier(loop)) { result in
                        loop.execute {
                            answers.value[i] = result
                            finished.value -= 1
                            if finished.value == 0 { continuation.resume(returning: answers.value.compactMap { $0 }) }
                        }
                    }
                }
            }
        }
        return try results.map { result in
            guard case .one(let decision) = try result.get() else { throw PipelineError.invalid(.emptyBatch) }
            return decision
        }
    }

    /// Runs a pipeline step on this store's event loop; throws the caller's error as the
    /// `CheckError`, and a refused backend as `BackendUnavailable`.
    private func run<Value: Sendable>(_ step: PipelineStep<Value>) async throws -> Value {
        let result: Result<Value, PipelineError>
        switch step {
        case .now(let now): result = now
        case .later(let call):
            let affinity = ObjectIdentifier(loop)
            result = await withCheckedContinuation { continuation in
                call.run(affinity: affinity) { continuation.resume(returning: $0) }
            }
        }
        switch result {
        case .success(let value): return value
        case .failure(.invalid(let error)): throw error
        case .failure(.unavailable(let error)): throw error
        case .failure(let error): throw error
        }
    }

    func shutdown() async {
        await store.shutdown()
        try? await group.shutdownGracefully()
    }
}
