public import NIOCore
public import RateLimitCore
import SwiftProtobuf

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
                let check = SluiceMethods.check(try Self.decode(Sluice_V1_CheckLimitRequest.self, message))
                return decide(.one(check), commit: true, method, start, eventLoop, SluiceMethods.checkLimitResponse)
            case .getStatus:
                let check = SluiceMethods.check(try Self.decode(Sluice_V1_GetStatusRequest.self, message))
                return decide(.one(check), commit: false, method, start, eventLoop, SluiceMethods.getStatusResponse)
            case .checkBatch:
                let checks = try Self.decode(Sluice_V1_CheckBatchRequest.self, message).checks.map(SluiceMethods.check)
                return decide(.batch(checks), commit: true, method, start, eventLoop, SluiceMethods.checkBatchResponse)
            case .shouldRateLimit:
                let request = try Self.decode(Envoy_Service_Ratelimit_V3_RateLimitRequest.self, message)
                let plan = try EnvoyPlan(request, index: pipeline.limiter.rules.descriptors, observers: observers)
                guard !plan.checks.isEmpty else {
                    observers.duration(method.endpoint, elapsedNanoseconds(since: start))
                    return .now(Self.reply(plan.response(nil)))
                }
                let checks: Checks = plan.checks.count == 1 ? .one(plan.checks[0]) : .batch(plan.checks)
                return decide(checks, commit: true, method, start, eventLoop) { plan.response($0) }
            }
        } catch {
            return .now(.failure(error))
        }
    }

    /// Decides `checks` through the pipeline and renders the reply.
    private func decide<Response: SwiftProtobuf.Message>(
        _ checks: Checks, commit: Bool, _ method: GRPCMethod, _ start: NIODeadline,
        _ eventLoop: any EventLoop, _ respond: @escaping @Sendable (BatchDecision) -> Response
    ) -> GRPCAnswer {
        switch pipeline.decide(checks, commit: commit) {
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

    private func reply<Response: SwiftProtobuf.Message>(
        _ result: Result<Verdict, PipelineError>, _ method: GRPCMethod, _ start: NIODeadline,
        _ respond: (BatchDecision) -> Response
    ) -> GRPCReply {
        switch result {
        case .success(let verdict):
            let reply = Self.reply(respond(verdict.batch))
            observers.duration(method.endpoint, elapsedNanoseconds(since: start))
            return reply
        case .failure(let error):
            return .failure(GRPCStatus(error))
        }
    }

    static func decode<Request: SwiftProtobuf.Message>(_ type: Request.Type, _ message: ByteBuffer) throws(GRPCStatus) -> Request {
        do {
            return try Request(grpcMessage: message)
        } catch {
            throw GRPCStatus(.invalidArgument, "cannot decode \(Request.protoMessageName): \(error)")
        }
    }

    static func reply(_ response: some SwiftProtobuf.Message) -> GRPCReply {
        do {
            return .message(try response.grpcFramed())
        } catch {
            return .failure(GRPCStatus(.internalError, "cannot encode \(type(of: response).protoMessageName): \(error)"))
        }
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
