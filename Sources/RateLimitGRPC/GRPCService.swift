public import NIOCore
public import RateLimitCore
import SwiftProtobuf
import Synchronization

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

/// Sluice's gRPC methods over the limiter: request message in, reply out. In memory the answer
/// is decided synchronously; with a remote backend it comes later, bounded by `maxInflight`
/// (beyond it, `UNAVAILABLE` and a shed count, as the HTTP API's 503).
public final class GRPCService: Sendable {
    let limiter: RateLimiter
    let remote: (any GRPCRemoteDecider)?
    let observers: GRPCObservers
    let maxInflight: Int
    private let inflight = Atomic<Int>(0)

    public init(
        limiter: RateLimiter, remote: (any GRPCRemoteDecider)? = nil, observers: GRPCObservers = GRPCObservers(),
        maxInflight: Int = 4096
    ) {
        self.limiter = limiter
        self.remote = remote
        self.observers = observers
        self.maxInflight = maxInflight
    }

    public func answer(_ method: GRPCMethod, _ message: ByteBuffer, on eventLoop: any EventLoop) -> GRPCAnswer {
        let start = NIODeadline.now()
        do throws(GRPCStatus) {
            switch method {
            case .checkLimit:
                let check = SluiceMethods.check(try Self.decode(Sluice_V1_CheckLimitRequest.self, message))
                return decide([check], single: true, commit: true, method, start, eventLoop, SluiceMethods.checkLimitResponse)
            case .getStatus:
                let check = SluiceMethods.check(try Self.decode(Sluice_V1_GetStatusRequest.self, message))
                return decide([check], single: true, commit: false, method, start, eventLoop, SluiceMethods.getStatusResponse)
            case .checkBatch:
                let checks = try Self.decode(Sluice_V1_CheckBatchRequest.self, message).checks.map(SluiceMethods.check)
                return decide(checks, single: false, commit: true, method, start, eventLoop, SluiceMethods.checkBatchResponse)
            case .shouldRateLimit:
                let request = try Self.decode(Envoy_Service_Ratelimit_V3_RateLimitRequest.self, message)
                let plan = try EnvoyPlan(request, index: limiter.rules.descriptors, observers: observers)
                guard !plan.checks.isEmpty else {
                    observers.duration(method.endpoint, elapsedNanoseconds(since: start))
                    return .now(Self.reply(plan.response(nil)))
                }
                return decide(plan.checks, single: plan.checks.count == 1, commit: true, method, start, eventLoop) {
                    plan.response($0)
                }
            }
        } catch {
            return .now(.failure(error))
        }
    }

    /// Decides `requests` (one check, or a batch when `single` is false) and renders the reply.
    private func decide<Response: SwiftProtobuf.Message>(
        _ requests: [CheckRequest], single: Bool, commit: Bool, _ method: GRPCMethod, _ start: NIODeadline,
        _ eventLoop: any EventLoop, _ respond: @escaping @Sendable (BatchDecision) -> Response
    ) -> GRPCAnswer {
        guard let remote else {
            let batch: BatchDecision
            do {
                if single, let request = requests.first {
                    let decision = commit ? try limiter.check(request) : try limiter.status(request)
                    batch = BatchDecision(allowed: decision.allowed, decisions: [decision])
                } else {
                    batch = commit ? try limiter.check(batch: requests) : try limiter.status(batch: requests)
                }
            } catch {
                return .now(.failure(GRPCStatus(error)))
            }
            let reply = Self.reply(respond(batch))
            observers.duration(method.endpoint, elapsedNanoseconds(since: start))
            return .now(reply)
        }
        let count = inflight.wrappingAdd(1, ordering: .relaxed).newValue
        guard count <= maxInflight else {
            inflight.wrappingSubtract(1, ordering: .relaxed)
            observers.shed()
            return .now(.failure(GRPCStatus(.unavailable, "too many requests in flight (cap \(maxInflight)); retry shortly")))
        }
        let checks: [PreparedCheck]
        do {
            checks = try limiter.prepare(batch: requests)  // a single check is a batch of one here
        } catch {
            inflight.wrappingSubtract(1, ordering: .relaxed)
            return .now(.failure(GRPCStatus(error)))
        }
        let limiter = self.limiter
        let future = remote.decide(checks, commit: commit, on: eventLoop).map { stored in
            Self.reply(respond(limiter.finish(batch: checks, stored: stored, commit: commit)))
        }.recover { error in
            .failure(GRPCStatus(.unavailable, "rate-limit backend unavailable: \(error)"))
        }
        return .later(future.always { result in
            self.inflight.wrappingSubtract(1, ordering: .relaxed)
            if case .success(.message) = result { self.observers.duration(method.endpoint, elapsedNanoseconds(since: start)) }
        })
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
    /// Unknown rule → `NOT_FOUND`; any other caller error → `INVALID_ARGUMENT`.
    init(_ error: CheckError) {
        switch error {
        case .unknownRule: self.init(.notFound, error.description)
        default: self.init(.invalidArgument, error.description)
        }
    }
}
