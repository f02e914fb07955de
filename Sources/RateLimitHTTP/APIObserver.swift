public import RateLimitCore

/// A rule from the neutral tree of a JSON body; errors describe themselves (field and path).
public typealias RuleParser = @Sendable (JSONValue) throws -> Rule

/// Where the API reports what it did; the app turns the events into metrics, so the transport
/// imports no metrics library. Connections report through `ConnectionObserver`.
public protocol APIObserver: Sendable {
    /// One request answered, with its server-side time (caller errors and shed requests are not
    /// reported: they would skew the latency of the work that was done).
    func answered(_ endpoint: APIHandler.Endpoint, nanoseconds: Int64)
}
