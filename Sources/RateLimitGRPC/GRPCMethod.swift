/// The unary methods Sluice serves, by their `:path`.
public enum GRPCMethod: Sendable, CaseIterable {
    case checkLimit, checkBatch, getStatus, report, shouldRateLimit

    public init?(path: String) {
        // Lengths first: one string comparison per call, not up to five.
        let count = path.utf8.count
        for (candidate, method) in Self.byPath where candidate.utf8.count == count && candidate == path {
            self = method
            return
        }
        return nil
    }

    /// Every method's `:path`.
    static let byPath: [(path: String, method: GRPCMethod)] = [
        ("/sluice.v1.RateLimiter/CheckLimit", .checkLimit),
        ("/sluice.v1.RateLimiter/CheckBatch", .checkBatch),
        ("/sluice.v1.RateLimiter/GetStatus", .getStatus),
        ("/sluice.v1.RateLimiter/Report", .report),
        ("/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit", .shouldRateLimit),
    ]

    public var endpoint: GRPCEndpoint {
        switch self {
        case .checkLimit: .checkLimit
        case .checkBatch: .checkBatch
        case .getStatus: .getStatus
        case .report: .report
        case .shouldRateLimit: .shouldRateLimit
        }
    }
}
