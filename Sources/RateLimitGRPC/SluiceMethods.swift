import RateLimitCore

/// `sluice.v1.RateLimiter`: CheckLimit, CheckBatch and GetStatus, the gRPC twins of the HTTP
/// API's `/v1/check` and `/v1/status`: requests into checks, decisions into responses.
enum SluiceMethods {
    /// An unset cost means 1, as in the HTTP API.
    static func check(_ request: Sluice_V1_CheckLimitRequest) -> CheckRequest {
        CheckRequest(rule: request.rule, key: request.key, cost: request.hasCost ? request.cost : 1)
    }

    /// GetStatus asks about now: it consumes nothing and its cost is 0.
    static func check(_ request: Sluice_V1_GetStatusRequest) -> CheckRequest {
        CheckRequest(rule: request.rule, key: request.key, cost: 0)
    }

    static func checkLimitResponse(_ batch: BatchDecision) -> Sluice_V1_CheckLimitResponse {
        var response = Sluice_V1_CheckLimitResponse()
        if let decision = batch.decisions.first { response.decision = Sluice_V1_Decision(decision) }
        return response
    }

    static func getStatusResponse(_ batch: BatchDecision) -> Sluice_V1_GetStatusResponse {
        var response = Sluice_V1_GetStatusResponse()
        if let decision = batch.decisions.first { response.decision = Sluice_V1_Decision(decision) }
        return response
    }

    static func checkBatchResponse(_ batch: BatchDecision) -> Sluice_V1_CheckBatchResponse {
        var response = Sluice_V1_CheckBatchResponse()
        response.allowed = batch.allowed
        response.decisions = batch.decisions.map(Sluice_V1_Decision.init)
        return response
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
