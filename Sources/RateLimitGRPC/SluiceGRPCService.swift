public import GRPCCore
public import RateLimitCore

/// `sluice.v1.RateLimiter`: CheckLimit, CheckBatch and GetStatus, the gRPC twins of the HTTP
/// API's `/v1/check` and `/v1/status`.
public struct SluiceGRPCService: Sluice_V1_RateLimiter.SimpleServiceProtocol {
    private let decider: GRPCDecider
    private let observers: GRPCObservers

    public init(limiter: RateLimiter, remote: (any AsyncRemoteDecider)? = nil, observers: GRPCObservers = GRPCObservers()) {
        decider = GRPCDecider(limiter: limiter, remote: remote)
        self.observers = observers
    }

    public func checkLimit(
        request: Sluice_V1_CheckLimitRequest, context: ServerContext
    ) async throws -> Sluice_V1_CheckLimitResponse {
        let start = ContinuousClock.now
        let batch = try await decider.decide([Self.check(request)], single: true, commit: true)
        var response = Sluice_V1_CheckLimitResponse()
        if let decision = batch.decisions.first { response.decision = Sluice_V1_Decision(decision) }
        observers.duration(.checkLimit, elapsedNanoseconds(since: start))
        return response
    }

    public func checkBatch(
        request: Sluice_V1_CheckBatchRequest, context: ServerContext
    ) async throws -> Sluice_V1_CheckBatchResponse {
        let start = ContinuousClock.now
        let batch = try await decider.decide(request.checks.map(Self.check), single: false, commit: true)
        var response = Sluice_V1_CheckBatchResponse()
        response.allowed = batch.allowed
        response.decisions = batch.decisions.map(Sluice_V1_Decision.init)
        observers.duration(.checkBatch, elapsedNanoseconds(since: start))
        return response
    }

    public func getStatus(
        request: Sluice_V1_GetStatusRequest, context: ServerContext
    ) async throws -> Sluice_V1_GetStatusResponse {
        let start = ContinuousClock.now
        let check = CheckRequest(rule: request.rule, key: request.key, cost: 0)
        let batch = try await decider.decide([check], single: true, commit: false)
        var response = Sluice_V1_GetStatusResponse()
        if let decision = batch.decisions.first { response.decision = Sluice_V1_Decision(decision) }
        observers.duration(.getStatus, elapsedNanoseconds(since: start))
        return response
    }

    /// An unset cost means 1, as in the HTTP API.
    static func check(_ request: Sluice_V1_CheckLimitRequest) -> CheckRequest {
        CheckRequest(rule: request.rule, key: request.key, cost: request.hasCost ? request.cost : 1)
    }
}

extension Sluice_V1_Decision {
    init(_ decision: Decision) {
        self.init()
        allowed = decision.allowed
        limit = decision.limit
        periodNs = decision.period
        remaining = decision.remaining
        resetAfterNs = decision.resetAfter
        retryAfterNs = decision.retryAfter
        delayNs = decision.delay
        shadowDenied = decision.shadowDenied
    }
}
