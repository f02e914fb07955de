/// The unary methods Sluice serves, by their `:path`.
public enum GRPCMethod: Sendable, CaseIterable {
    case checkLimit, checkBatch, getStatus, report, shouldRateLimit

    public init?(path: String) {
        switch path {
        case "/sluice.v1.RateLimiter/CheckLimit": self = .checkLimit
        case "/sluice.v1.RateLimiter/CheckBatch": self = .checkBatch
        case "/sluice.v1.RateLimiter/GetStatus": self = .getStatus
        case "/sluice.v1.RateLimiter/Report": self = .report
        case "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit": self = .shouldRateLimit
        default: return nil
        }
    }

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
