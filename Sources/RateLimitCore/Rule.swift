/// Integer nanoseconds: every instant and span in the core is one of these.
public typealias Nanoseconds = Int64

/// The algorithm a rule uses to decide.
public enum Algorithm: String, Sendable, CaseIterable, Hashable {
    /// GCRA: one theoretical-arrival-time per key; capacity `burst`, refill `limit/period`.
    case tokenBucket = "token_bucket"
    /// Weighted two-window counter: current + previous × remaining overlap.
    case slidingWindow = "sliding_window"
    /// One counter per window aligned to multiples of `period` from the clock's epoch.
    case fixedWindow = "fixed_window"
    /// Shaping: a request that fits in the queue (`burst`) is allowed after a `delay`.
    case leakyBucket = "leaky_bucket"
    /// At most `limit` leases in flight per key; each is released by its caller or expires
    /// `lease_ttl` (the limits' `period`) after it was granted.
    case concurrency
}

/// The effective parameters a key is limited by (a rule's, or an override's).
public struct Limits: Sendable, Hashable {
    public let algorithm: Algorithm
    /// Requests granted per `period`.
    public let limit: Int64
    /// The period in nanoseconds; for `concurrency`, the lease TTL (`lease_ttl`).
    public let period: Nanoseconds
    /// Token bucket: capacity. Leaky bucket: queue length. Windows: equal to `limit`.
    public let burst: Int64

    /// Largest limit, burst or cost a rule accepts; keeps all arithmetic far from overflow.
    public static let maxLimit: Int64 = 1_000_000_000
    /// Shortest period: 1 ms.
    public static let minPeriod: Nanoseconds = 1_000_000
    /// Longest period: 366 days.
    public static let maxPeriod: Nanoseconds = 366 * 86_400 * 1_000_000_000
    /// A concurrency rule's `lease_ttl` when the config gives none: 30 s.
    public static let defaultLeaseTTL: Nanoseconds = 30 * 1_000_000_000

    /// Creates limits, checking ranges. `burst` nil means the algorithm's default:
    /// `limit` for the token bucket, 0 for the leaky bucket; windows ignore it.
    public init(algorithm: Algorithm, limit: Int64, period: Nanoseconds, burst: Int64? = nil) throws(RuleError) {
        guard (1...Self.maxLimit).contains(limit) else {
            throw RuleError(field: "limit", message: "must be an integer from 1 to \(Self.maxLimit), got \(limit)")
        }
        guard (Self.minPeriod...Self.maxPeriod).contains(period) else {
            throw RuleError(field: algorithm == .concurrency ? "lease_ttl" : "period", message: "must be from 1ms to 366d")
        }
        let resolved: Int64
        switch algorithm {
        case .tokenBucket:
            resolved = burst ?? limit
            guard (1...Self.maxLimit).contains(resolved) else {
                throw RuleError(field: "burst", message: "must be an integer from 1 to \(Self.maxLimit), got \(resolved)")
            }
        case .leakyBucket:
            resolved = burst ?? 0
            guard (0...Self.maxLimit).contains(resolved) else {
                throw RuleError(field: "burst", message: "must be an integer from 0 to \(Self.maxLimit), got \(resolved)")
            }
        case .slidingWindow, .fixedWindow, .concurrency:
            if burst != nil {
                throw RuleError(field: "burst", message: "only token_bucket and leaky_bucket take a burst")
            }
            resolved = limit
        }
        self.algorithm = algorithm
        self.limit = limit
        self.period = period
        self.burst = resolved
    }

    /// The largest cost a single request can ever be granted; a larger one is an error.
    /// A concurrency check acquires one lease (cost 1) or peeks (cost 0).
    public var capacity: Int64 {
        switch algorithm {
        case .tokenBucket: burst
        case .leakyBucket: max(burst, 1)
        case .slidingWindow, .fixedWindow: limit
        case .concurrency: 1
        }
    }
}

/// What an override gives one exact key.
public enum OverridePolicy: Sendable, Hashable {
    case limited(Limits)
    case unlimited
}

/// A named rule: "limit requests per period", with optional burst, shadow mode and overrides.
public struct Rule: Sendable, Hashable {
    public let name: String
    public let limits: Limits
    /// Shadow rules count and export would-be denials but always allow.
    public let shadow: Bool
    /// Exact key (bytes as sent) → its own policy.
    public let overrides: [ExactKey: OverridePolicy]
    /// The Envoy descriptors (gRPC RLS v3) this rule answers.
    public let descriptors: [DescriptorMatch]

    /// Longest rule name.
    public static let maxNameLength = 128

    public init(
        name: String, limits: Limits, shadow: Bool = false, overrides: [ExactKey: OverridePolicy] = [:],
        descriptors: [DescriptorMatch] = []
    ) throws(RuleError) {
        guard !name.isEmpty, name.utf8.count <= Self.maxNameLength,
              name.utf8.allSatisfy({ Self.isNameByte($0) })
        else {
            throw RuleError(field: "name", message: "must be 1-\(Self.maxNameLength) characters of A-Z a-z 0-9 _ - . , got \"\(name)\"")
        }
        if limits.algorithm == .concurrency, !descriptors.isEmpty {
            // Envoy's rate limit service only adds hits (`hits_addend`): nothing would release,
            // and every request would hold its lease for the whole lease_ttl (docs/grpc.md).
            throw RuleError(
                field: "descriptors",
                message: "a concurrency rule cannot serve Envoy descriptors: Envoy never releases a lease, so use the HTTP API (check, then POST /v1/release)")
        }
        self.name = name
        self.limits = limits
        self.shadow = shadow
        self.overrides = overrides
        self.descriptors = descriptors
    }

    /// Whether `other` limits keys exactly as this rule does, so its keys' state stays valid
    /// (only its descriptors differ, if anything).
    func limitsKeysLike(_ other: Rule) -> Bool {
        limits == other.limits && shadow == other.shadow && overrides == other.overrides
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
            true
        default:
            false
        }
    }

    /// The policy for `key`: its override if it has one, else the rule's limits.
    public func policy(for key: String) -> OverridePolicy {
        override(for: key) ?? .limited(limits)
    }

    /// The exact-key override of `key`, if the rule has one.
    public func override(for key: String) -> OverridePolicy? {
        overrides.isEmpty ? nil : overrides[ExactKey(key)]
    }
}

/// A rule that failed validation: the field and why.
public struct RuleError: Error, Sendable, Hashable, CustomStringConvertible {
    public var field: String
    public var message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
    public var description: String { "\(field): \(message)" }
}
