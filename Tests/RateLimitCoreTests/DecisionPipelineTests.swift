import RateLimitCore
import Synchronization
import Testing

/// The one pipeline every transport calls: memory answers now, a remote store later; the
/// in-flight bound, caller errors and shadow handling are the pipeline's, whatever the store.
@Suite struct DecisionPipelineTests {
    /// A remote store that decides with a memory store of its own, but only when told to answer.
    final class HeldStore: RemoteStore {
        typealias Done = @Sendable (Result<BatchDecision, BackendUnavailable>) -> Void
        let memory = MemoryStore()
        let held = Mutex<[(items: [StoreItem], commit: Bool, done: Done)]>([])
        let resets = Mutex<[String]>([])

        func decide(_ checks: [PreparedCheck], commit: Bool, affinity: ObjectIdentifier?, done: @escaping Done) {
            held.withLock { $0.append((checks.compactMap(\.item), commit, done)) }
        }

        func reset(_ check: PreparedCheck, affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<Void, BackendUnavailable>) -> Void) {
            resets.withLock { $0.append(check.key) }
            done(.failure(BackendUnavailable(reason: "down", reset: true)))
        }

        /// Answers the oldest held call, at `now`.
        func answerNext(now: Int64) {
            guard let call = held.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return }
            call.done(.success(memory.decideBatch(call.items, now: now, commit: call.commit)))
        }

        func failNext() {
            held.withLock { $0.isEmpty ? nil : $0.removeFirst() }?.done(.failure(BackendUnavailable(reason: "timeout")))
        }
    }

    final class Load: PipelineObserver {
        let counts = Mutex<[Int]>([])
        let sheds = Atomic<Int>(0)
        func inflight(_ count: Int) { counts.withLock { $0.append(count) } }
        func shed() { sheds.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Runs a later call and returns what it answered (the held store answers synchronously).
    static func run<Value>(_ step: PipelineStep<Value>, then answer: () -> Void) -> Result<Value, PipelineError>? {
        switch step {
        case .now(let result): return result
        case .later(let call):
            let box = Mutex<Result<Value, PipelineError>?>(nil)
            call.run(affinity: nil) { result in box.withLock { $0 = result } }
            answer()
            return box.withLock { $0 }
        }
    }

    @Test func memoryAnswersNowInTheShapeAsked() throws {
        let (limiter, _) = makeLimiter(rule("api", .tokenBucket, 2, per: second))
        let pipeline = DecisionPipeline(limiter: limiter)
        guard case .now(.success(.one(let first))) = pipeline.decide(.one(CheckRequest(rule: "api", key: "k")), commit: true) else {
            Issue.record("one check in memory is decided now")
            return
        }
        #expect(first.allowed && first.remaining == 1)
        guard case .now(.success(.batch(let batch))) = pipeline.decide(
            .batch([CheckRequest(rule: "api", key: "k"), CheckRequest(rule: "api", key: "j")]), commit: false)
        else {
            Issue.record("a batch in memory is decided now")
            return
        }
        #expect(batch.allowed && batch.decisions.map(\.remaining) == [0, 1])
        guard case .now(.failure(.invalid(.unknownRule("nope")))) = pipeline.decide(.one(CheckRequest(rule: "nope", key: "k")), commit: true) else {
            Issue.record("an unknown rule is the caller's error")
            return
        }
    }

    @Test func remoteAnswersLaterAndTheLimiterFinishesIt() throws {
        let (limiter, _) = makeLimiter(rule("api", .fixedWindow, 1, per: second), rule("dry", .fixedWindow, 1, per: second, shadow: true))
        let store = HeldStore()
        let pipeline = DecisionPipeline(limiter: limiter, remote: store)
        for expected in [true, false] {
            let result = Self.run(pipeline.decide(.one(CheckRequest(rule: "api", key: "k")), commit: true)) { store.answerNext(now: 0) }
            guard case .success(.one(let decision)) = result else {
                Issue.record("a remote check answers one decision: \(String(describing: result))")
                return
            }
            #expect(decision.allowed == expected && decision.remaining == 0)
        }
        // Shadow handling is the pipeline's: the store's denial of a shadow rule becomes allowed.
        _ = Self.run(pipeline.decide(.one(CheckRequest(rule: "dry", key: "k")), commit: true)) { store.answerNext(now: 0) }
        let shadow = Self.run(pipeline.decide(.one(CheckRequest(rule: "dry", key: "k")), commit: true)) { store.answerNext(now: 0) }
        guard case .success(.one(let decision)) = shadow else {
            Issue.record("no shadow answer")
            return
        }
        #expect(decision.allowed && decision.shadowDenied && decision.retryAfter == 0)
    }

    @Test func callsWaitingBeyondMaxInflightAreShedAndEveryAnswerReleasesItsPlace() throws {
        let (limiter, _) = makeLimiter(rule("api", .tokenBucket, 100, per: second))
        let store = HeldStore()
        let load = Load()
        let pipeline = DecisionPipeline(limiter: limiter, remote: store, maxInflight: 2, observer: load)
        let request = Checks.one(CheckRequest(rule: "api", key: "k"))
        let answers = Atomic<Int>(0)
        for _ in 0..<2 {
            guard case .later(let call) = pipeline.decide(request, commit: true) else {
                Issue.record("a remote call waits")
                return
            }
            call.run(affinity: nil) { _ in answers.wrappingAdd(1, ordering: .relaxed) }
        }
        guard case .now(.failure(.shed(cap: 2))) = pipeline.decide(request, commit: true) else {
            Issue.record("the third waiting call is shed")
            return
        }
        // A caller error is answered now and takes no place.
        guard case .now(.failure(.invalid(.emptyKey))) = pipeline.decide(.one(CheckRequest(rule: "api", key: "")), commit: true) else {
            Issue.record("an empty key is the caller's error")
            return
        }
        store.answerNext(now: 0)
        store.failNext()
        #expect(answers.load(ordering: .relaxed) == 2)
        #expect(load.sheds.load(ordering: .relaxed) == 1)
        #expect(load.counts.withLock { $0.last } == 0)
        guard case .later = pipeline.decide(request, commit: true) else {
            Issue.record("answered calls free their places")
            return
        }
    }

    @Test func aRefusedBackendIsUnavailableNotACallerError() throws {
        let (limiter, _) = makeLimiter(rule("api", .tokenBucket, 100, per: second))
        let store = HeldStore()
        let pipeline = DecisionPipeline(limiter: limiter, remote: store)
        let result = Self.run(pipeline.decide(.batch([CheckRequest(rule: "api", key: "k")]), commit: true)) { store.failNext() }
        guard case .failure(.unavailable(let error)) = result else {
            Issue.record("expected unavailable, got \(String(describing: result))")
            return
        }
        #expect(error.reason == "timeout")
        let reset = Self.run(pipeline.reset(rule: "api", key: "k")) {}
        guard case .failure(.unavailable(let refused)) = reset else {
            Issue.record("a reset the backend cannot do is unavailable")
            return
        }
        #expect(refused.reset && store.resets.withLock { $0 } == ["k"])
        guard case .now(.failure(.invalid(.unknownRule))) = pipeline.reset(rule: "nope", key: "k") else {
            Issue.record("a reset of an unknown rule is the caller's error")
            return
        }
    }
}
