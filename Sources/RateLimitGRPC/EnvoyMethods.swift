import RateLimitCore
import SwiftProtobuf

/// Envoy's rate limit service (RLS v3, `ShouldRateLimit`), answered by Sluice's rules.
///
/// Each descriptor is matched to a rule through the rules' `descriptors:` (domain + entries; see
/// `DescriptorIndex`). The matched descriptors are decided together as one batch: OVER_LIMIT if
/// any is over, and then none of them consumes anything. Descriptors that match no rule, and
/// every descriptor of an unknown domain, are OK without a limit (as envoyproxy/ratelimit does);
/// shadow rules answer OK. `hits_addend` 0 means 1; a descriptor's own `hits_addend` wins.
/// An empty domain or descriptor list is `INVALID_ARGUMENT`.
struct EnvoyPlan: Sendable {
    typealias Response = Envoy_Service_Ratelimit_V3_RateLimitResponse

    /// The checks of the descriptors that matched a rule.
    var checks: [CheckRequest] = []
    /// For each descriptor, the position of its check in `checks` (nil: no rule).
    var positions: [Int?] = []

    init(_ request: Envoy_Service_Ratelimit_V3_RateLimitRequest, index: DescriptorIndex, observers: GRPCObservers) throws(GRPCStatus) {
        // As envoyproxy/ratelimit: both are malformed requests, not "no limit".
        guard !request.domain.isEmpty else { throw GRPCStatus(.invalidArgument, "domain must not be empty") }
        guard !request.descriptors.isEmpty else { throw GRPCStatus(.invalidArgument, "descriptors must not be empty") }
        let hits = request.hitsAddend == 0 ? 1 : Int64(request.hitsAddend)
        positions.reserveCapacity(request.descriptors.count)
        for descriptor in request.descriptors {
            let entries = descriptor.entries.map { (key: $0.key, value: $0.value) }
            switch index.match(domain: request.domain, entries: entries) {
            case .rule(let rule, let key):
                let cost = descriptor.hasHitsAddend ? Int64(clamping: descriptor.hitsAddend.value) : hits
                positions.append(checks.count)
                checks.append(CheckRequest(rule: rule, key: key, cost: cost))
            case .unknownDomain:
                positions.append(nil)
                observers.unmatched(.unknownDomain)
            case .noRule:
                positions.append(nil)
                observers.unmatched(.noRule)
            }
        }
    }

    /// The answer, given the batch decision of `checks` (nil when nothing matched).
    func response(_ batch: BatchDecision?) -> Response {
        var response = Response()
        response.overallCode = batch?.allowed == false ? .overLimit : .ok
        let decisions = batch?.decisions ?? []
        response.statuses = positions.map { position in
            guard let position, position < decisions.count else { return Self.unlimitedStatus }
            return Self.status(decisions[position], rule: checks[position].rule)
        }
        return response
    }

    /// A descriptor no rule limits.
    static var unlimitedStatus: Response.DescriptorStatus {
        var status = Response.DescriptorStatus()
        status.code = .ok
        return status
    }

    static func status(_ decision: Decision, rule: String) -> Response.DescriptorStatus {
        var status = Response.DescriptorStatus()
        status.code = decision.allowed ? .ok : .overLimit
        status.currentLimit = currentLimit(decision, rule: rule)
        status.limitRemaining = UInt32(clamping: decision.remaining)
        status.durationUntilReset = Google_Protobuf_Duration(
            seconds: decision.resetAfter / 1_000_000_000, nanos: Int32(decision.resetAfter % 1_000_000_000))
        return status
    }

    /// The limit in Envoy's terms: requests per unit when the period is exactly one unit;
    /// otherwise the limit per period with unit UNKNOWN (the name still says which rule).
    static func currentLimit(_ decision: Decision, rule: String) -> Response.RateLimit {
        var limit = Response.RateLimit()
        limit.name = rule
        limit.requestsPerUnit = UInt32(clamping: decision.limit)
        let second: Int64 = 1_000_000_000
        switch decision.period {
        case second: limit.unit = .second
        case 60 * second: limit.unit = .minute
        case 3600 * second: limit.unit = .hour
        case 86_400 * second: limit.unit = .day
        case 7 * 86_400 * second: limit.unit = .week
        default: limit.unit = .unknown
        }
        return limit
    }
}
