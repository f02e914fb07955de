public import NIOCore
public import RateLimitCore

/// A call's outcome: the response message (framed, ready for a DATA frame) or a status.
public enum GRPCReply: Sendable {
    case message(ByteBuffer)
    case failure(GRPCStatus)
}

/// A reply now (decided on the event loop, the memory store) or later (a remote backend).
public enum GRPCAnswer: Sendable {
    case now(GRPCReply)
    /// Completes on the event loop the call was given.
    case later(EventLoopFuture<GRPCReply>)
}

/// Sluice's gRPC methods over the decision pipeline: request message in, reply out. In memory
/// the answer is decided synchronously on the event loop; with a remote store it comes later,
/// bounded by the pipeline's `maxInflight` (beyond it, `UNAVAILABLE` and a shed count, as the
/// HTTP API's 503).
public final class GRPCService: Sendable {
    let pipeline: DecisionPipeline
    let observer: (any GRPCObserver)?

    public init(pipeline: DecisionPipeline, observer: (any GRPCObserver)? = nil) {
        self.pipeline = pipeline
        self.observer = observer
    }

    public func answer(_ method: GRPCMethod, _ message: ByteBuffer, on eventLoop: any EventLoop) -> GRPCAnswer {
        let start = NIODeadline.now()
        do throws(GRPCStatus) {
            switch method {
            case .checkLimit:
                let check = try Self.decode("CheckLimitRequest") { () throws(ProtoWireError) in try SluiceWire.decodeCheck(message, costField: true) }
                try refuseLeases(CollectionOfOne(check))
                return answer(pipeline.decide(.one(check), commit: true), method, start, eventLoop, DecisionReply())
            case .getStatus:
                let check = try Self.decode("GetStatusRequest") { () throws(ProtoWireError) in try SluiceWire.decodeCheck(message, costField: false) }
                return answer(pipeline.decide(.one(check), commit: false), method, start, eventLoop, DecisionReply())
            case .checkBatch:
                let checks = try Self.decode("CheckBatchRequest") { () throws(ProtoWireError) in try SluiceWire.decodeBatch(message) }
                try refuseLeases(checks)
                return answer(pipeline.decide(.batch(checks), commit: true), method, start, eventLoop, BatchReply())
            case .report:
                let reports = try Self.decode("ReportRequest") { () throws(ProtoWireError) in try SluiceWire.decodeReports(message) }
                return answer(pipeline.report(reports), method, start, eventLoop, ReportsReply())
            case .shouldRateLimit:
                let request = try Self.decode("envoy.service.ratelimit.v3.RateLimitRequest") { () throws(ProtoWireError) in
                    try EnvoyWire.decodeRequest(message)
                }
                let plan = try EnvoyPlan(request, index: pipeline.limiter.descriptors, observer: observer)
                guard let checks = plan.checks else {
                    observer?.answered(method.endpoint, nanoseconds: elapsedNanoseconds(since: start))
                    return .now(.message(plan.response(nil)))
                }
                return answer(pipeline.decide(checks, commit: true), method, start, eventLoop, plan)
            }
        } catch {
            return .now(.failure(error))
        }
    }

    /// sluice.v1 carries no lease id: a check that would acquire a concurrency rule's lease is
    /// refused (`INVALID_ARGUMENT`), or the caller would hold a lease it can never release.
    /// Leases are the HTTP API's (docs/grpc.md); `GetStatus` (a peek) is answered.
    private func refuseLeases(_ checks: some Sequence<CheckRequest>) throws(GRPCStatus) {
        guard pipeline.limiter.hasConcurrencyRules else { return }
        for check in checks where check.cost > 0 && pipeline.limiter.algorithm(of: check.rule) == .concurrency {
            throw GRPCStatus(
                .invalidArgument,
                "rule \"\(check.rule)\" is a concurrency rule: sluice.v1 cannot carry its lease; acquire and release it over the HTTP API")
        }
    }

    /// A pipeline step as a gRPC answer: now, or later on `eventLoop`.
    private func answer<Responder: GRPCResponder>(
        _ step: PipelineStep<Responder.Value>, _ method: GRPCMethod, _ start: NIODeadline, _ eventLoop: any EventLoop,
        _ responder: Responder
    ) -> GRPCAnswer {
        switch step {
        case .now(let result):
            return .now(reply(result, method, start, responder))
        case .later(let call):
            let promise = eventLoop.makePromise(of: GRPCReply.self)
            call.run(affinity: ObjectIdentifier(eventLoop)) { result in
                promise.succeed(self.reply(result, method, start, responder))
            }
            return .later(promise.futureResult)
        }
    }

    /// The reply to a pipeline result: the responder's message, counted in the method's
    /// latency, or the refusal's status.
    private func reply<Responder: GRPCResponder>(
        _ result: Result<Responder.Value, PipelineError>, _ method: GRPCMethod, _ start: NIODeadline, _ responder: Responder
    ) -> GRPCReply {
        switch result {
        case .success(let value):
            let reply = responder.reply(value)
            observer?.answered(method.endpoint, nanoseconds: elapsedNanoseconds(since: start))
            return reply
        case .failure(let error):
            return .failure(GRPCStatus(error))
        }
    }

    /// A request message read by `read`; bad bytes are `INVALID_ARGUMENT` naming the message.
    static func decode<Request>(_ name: String, _ read: () throws(ProtoWireError) -> Request) throws(GRPCStatus) -> Request {
        do {
            return try read()
        } catch {
            throw GRPCStatus(.invalidArgument, "cannot decode \(name): \(error)")
        }
    }

}

/// Renders what the pipeline answered as a call's reply. A value rather than a closure: a
/// reply rendered now allocates no closure context.
protocol GRPCResponder: Sendable {
    associatedtype Value: Sendable
    func reply(_ value: Value) -> GRPCReply
}

/// CheckLimit's and GetStatus's answer: one decision.
struct DecisionReply: GRPCResponder {
    func reply(_ verdict: Verdict) -> GRPCReply {
        guard case .one(let decision) = verdict else { return .failure(GRPCStatus(.internalError, "one check answered as a batch")) }
        return .message(SluiceWire.framedDecision(decision, allocator: ByteBufferAllocator()))
    }
}

/// CheckBatch's answer.
struct BatchReply: GRPCResponder {
    func reply(_ verdict: Verdict) -> GRPCReply { .message(SluiceWire.framedBatch(verdict.batch, allocator: ByteBufferAllocator())) }
}

/// Report's answer.
struct ReportsReply: GRPCResponder {
    func reply(_ reports: [Report]) -> GRPCReply { .message(SluiceWire.framedReports(reports, allocator: ByteBufferAllocator())) }
}

/// ShouldRateLimit's answer, one status per descriptor.
extension EnvoyPlan: GRPCResponder {
    func reply(_ verdict: Verdict) -> GRPCReply { .message(response(verdict)) }
}

extension GRPCStatus {
    /// Unknown rule → `NOT_FOUND`; any other caller error → `INVALID_ARGUMENT`; shed or an
    /// unavailable backend → `UNAVAILABLE`.
    init(_ error: PipelineError) {
        switch error {
        case .invalid(.unknownRule): self.init(.notFound, error.description)
        case .invalid: self.init(.invalidArgument, error.description)
        case .shed: self.init(.unavailable, error.description)
        case .unavailable(let unavailable): self.init(.unavailable, "rate-limit backend unavailable: \(unavailable)")
        }
    }
}
