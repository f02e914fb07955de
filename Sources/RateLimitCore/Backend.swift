/// What a shared backend does when it cannot answer in time.
public enum FailurePolicy: String, Sendable, CaseIterable {
    /// Allow every request (availability over protection).
    case allow
    /// Refuse with 503 (protection over availability).
    case deny
    /// Decide with this pod's in-memory limiter until the backend is back.
    case local
}

/// Receives what a shared backend does (metrics live behind this).
public protocol BackendObserver: Sendable {
    /// One backend call: `operation` (e.g. `evalsha`), `status` (`ok`, `error`, `timeout`,
    /// `unavailable`) and its duration.
    func operation(_ operation: String, status: String, seconds: Double)
    /// The backend became usable (true) or not (false).
    func backendUp(_ up: Bool)
    /// A request decided by the failure policy instead of the backend.
    func fallback(_ policy: FailurePolicy)
    /// A request denied from the local over-limit cache, without a round trip.
    func cachedDenial()
}
