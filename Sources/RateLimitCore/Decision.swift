/// The answer to "may this key spend this much now?".
public struct Decision: Sendable, Hashable {
    /// Whether the request may proceed (always true for shadow rules).
    public var allowed: Bool
    /// The rule's limit per period (the override's, for an overridden key).
    public var limit: Int64
    /// Whole units still available after this decision.
    public var remaining: Int64
    /// Time until the key is back to its full quota (equivalent to a new key).
    public var resetAfter: Nanoseconds
    /// When denied: time until the same request would be allowed. Zero when allowed.
    public var retryAfter: Nanoseconds
    /// Leaky bucket: time the caller should wait before proceeding. Zero otherwise.
    public var delay: Nanoseconds
    /// A shadow rule allowed this, but would have denied it.
    public var shadowDenied: Bool
    /// The period of the limits applied (the window of `limit`).
    public var period: Nanoseconds
    /// Which store decided (`explain`).
    public var store: DecisionStore = .memory
    /// A concurrency rule's check that was granted and committed: the lease it holds.
    public var lease: GrantedLease?

    public init(
        allowed: Bool, limit: Int64, period: Nanoseconds, remaining: Int64, resetAfter: Nanoseconds = 0,
        retryAfter: Nanoseconds = 0, delay: Nanoseconds = 0, shadowDenied: Bool = false
    ) {
        self.allowed = allowed
        self.limit = limit
        self.period = period
        self.remaining = remaining
        self.resetAfter = resetAfter
        self.retryAfter = retryAfter
        self.delay = delay
        self.shadowDenied = shadowDenied
    }
}

/// Why a check could not be decided (a caller error, never a denial).
public enum CheckError: Error, Sendable, Hashable {
    case unknownRule(String)
    case negativeCost(Int64)
    /// The cost is larger than the rule could ever grant.
    case costExceedsCapacity(cost: Int64, capacity: Int64)
    case emptyKey
    case keyTooLong(Int)
    /// Keys must not contain control characters (U+0000–U+001F, U+007F).
    case keyHasControlCharacters
    case emptyBatch
    case batchTooLarge(Int)
    /// A report's cost is outside ±`Limits.maxLimit`.
    case reportCostOutOfRange(Int64)
    /// A report's `id` is empty, too long or has control characters.
    case badReportID
    case emptyReports
    case tooManyReports(Int)
    /// A report names a concurrency rule: leases are released, not reported.
    case reportOnConcurrency(String)
    /// A release names a rule that grants no leases.
    case notConcurrency(String)
    /// A release of a lease granted for this key but no longer held (released or expired).
    case leaseNotHeld(UInt64)
    /// A release of a lease never granted for this key.
    case unknownLease(UInt64)
    /// A batch with a concurrency rule, on a store that decides leases one check at a time.
    case leaseInSharedBatch(String)
}

extension CheckError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknownRule(let name): "unknown rule \"\(name)\""
        case .negativeCost: "cost must be a non-negative integer"
        case .costExceedsCapacity(let cost, let capacity):
            "cost \(cost) exceeds what the rule can ever grant (\(capacity))"
        case .emptyKey: "key must not be empty"
        case .keyTooLong(let n): "key is \(n) bytes, the maximum is \(RateLimiter.maxKeyBytes)"
        case .keyHasControlCharacters: "key must not contain control characters"
        case .emptyBatch: "checks must not be empty"
        case .batchTooLarge(let n): "checks has \(n) entries, the maximum is \(RateLimiter.maxBatch)"
        case .reportCostOutOfRange: "report cost must be an integer from -\(Limits.maxLimit) to \(Limits.maxLimit)"
        case .badReportID: "report id must be 1-\(ReportRequest.maxIDBytes) bytes without control characters"
        case .emptyReports: "reports must not be empty"
        case .tooManyReports(let n): "reports has \(n) entries, the maximum is \(RateLimiter.maxBatch)"
        case .reportOnConcurrency(let name): "rule \"\(name)\" is a concurrency rule: release its leases (POST /v1/release) instead of reporting"
        case .notConcurrency(let name): "rule \"\(name)\" is not a concurrency rule: it grants no leases to release"
        case .leaseNotHeld(let id): LeaseSet.ReleaseError.notHeld(id).description
        case .unknownLease(let id): LeaseSet.ReleaseError.unknown(id).description
        case .leaseInSharedBatch(let name):
            "rule \"\(name)\" is a concurrency rule: with the Redis backend, acquire its lease in a check of its own, not in a batch"
        }
    }
}
