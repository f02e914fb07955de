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
    let observers: GRPCObservers

    public init(pipeline: DecisionPipeline, observers: GRPCObservers = GRPCObservers()) {
        self.pipeline = pipeline
        self.observers = observers
    }

    public func answer(_ method: GRPCMethod, _ message: ByteBuffer, on eventLoop: any EventLoop) -> GRPCAnswer {
        let start = NIODeadline.now()
        do throws(GRPCStatus) {
            switch method {
            case .checkLimit:
                let check = try Self.decode("CheckLimitRequest") { () throws(ProtoWireError) in try SluiceWire.decodeCheck(message, costField: true) }
                try refuseLeases([check])
                return decide(.one(check), commit: true, method, start, eventLoop, Self.decisionReply)
            case .getStatus:
                let check = try Self.decode("GetStatusRequest") { () throws(ProtoWireError) in try SluiceWire.decodeCheck(message, costField: false) }
                return decide(.one(check), commit: false, method, start, eventLoop, Self.decisionReply)
            case .checkBatch:
                let checks = try Self.decode("CheckBatchRequest") { () throws(ProtoWireError) in try SluiceWire.decodeBatch(message) }
                try refuseLeases(checks)
                return decide(.batch(checks), commit: true, method, start, eventLoop) {
                    .message(SluiceWire.framedBatch($0.batch, allocator: ByteBufferAllocator()))
                }
            case .report:
                let reports = try Self.decode("ReportRequest") { () throws(ProtoWireError) in try SluiceWire.decodeReports(message) }
                return report(reports, method, start, eventLoop)
            case .shouldRateLimit:
                let request = try Self.decode("envoy.service.ratelimit.v3.RateLimitRequest") { () throws(ProtoWireError) in
                    try EnvoyWire.decodeRequest(message)
                }
                let plan = try EnvoyPlan(request, index: pipeline.limiter.descriptors, observers: observers)
                guard let checks = plan.checks else {
                    observers.duration(method.endpoint, elapsedNanoseconds(since: start))
                    return .now(.message(plan.response(nil)))
                }
                return decide(checks, commit: true, method, start, eventLoop) { .message(plan.response($0)) }
            }
        } catch {
            return .now(.failure(error))
        }
    }

    /// sluice.v1 carries no lease id: a check that would acquire a concurrency rule's lease is
    /// refused (`INVALID_ARGUMENT`), or the caller would hold a lease it can never release.
    /// Leases are the HTTP API's (docs/grpc.md); `GetStatus` (a peek) is answered.
    private func refuseLeases(_ checks: [CheckRequest]) throws(GRPCStatus) {
        for check in checks where check.cost > 0 && pipeline.limiter.algorithm(of: check.rule) == .concurrency {
            throw GRPCStatus(
                .invalidArgument,
                "rule \"\(check.rule)\" is a concurrency rule: sluice.v1 cannot carry its lease; acquire and release it over the HTTP API")
        }
    }

    /// Decides `checks` through the pipeline and renders the reply.
    private func decide(
        _ checks: Checks, commit: Bool, _ method: GRPCMethod, _ start: NIODeadline,
        _ eventLoop: any EventLoop, _ respond: @escaping @Sendable (Verdict) -> GRPCReply
    ) -> GRPCAnswer {
        answer(pipeline.decide(checks, commit: commit), method, start, eventLoop, respond)
    }

    /// Records reports through the pipeline and renders `ReportResponse`.
    private func report(_ reports: [ReportRequest], _ method: GRPCMethod, _ start: NIODeadline, _ eventLoop: any EventLoop) -> GRPCAnswer {
        answer(pipeline.report(reports), method, start, eventLoop) { .message(SluiceWire.framedReports($0, allocator: ByteBufferAllocator())) }
    }

    /// A pipeline step as a gRPC answer: now, or later on `eventLoop`.
    private func answer<Value: Sendable>(
        _ step: PipelineStep<Value>, _ method: GRPCMethod, _ start: NIODeadline, _ eventLoop: any EventLoop,
        _ respond: @escaping @Sendable (Value) -> GRPCReply
    ) -> GRPCAnswer {
        switch step {
        case .now(let result):
            return .now(reply(result, method, start, respond))
        case .later(let call):
            let promise = eventLoop.makePromise(of: GRPCReply.self)
            call.run(affinity: ObjectIdentifier(eventLoop)) { result in
                promise.succeed(self.reply(result, method, start, respond))
            }
            return .later(promise.futureResult)
        }
    }

    /// The reply to a pipeline result: `respond`'s message, counted in the method's latency, or
    /// the refusal's status.
    private func reply<Value>(
        _ result: Result<Value, PipelineError>, _ method: GRPCMethod, _ start: NIODeadline, _ respond: (Value) -> GRPCReply
    ) -> GRPCReply {
        switch result {
        case .success(let value):
            let reply = respond(value)
            observers.duration(method.endpoint, elapsedNanoseconds(since: start))
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

    /// CheckLimit's and GetStatus's answer: one decision.
    @Sendable static func decisionReply(_ verdict: Verdict) -> GRPCReply {
        guard case .one(let decision) = verdict else { return .failure(GRPCStatus(.internalError, "one check answered as a batch")) }
        return .message(SluiceWire.framedDecision(decision, allocator: ByteBufferAllocator()))
    }
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
