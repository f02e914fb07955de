/// A circuit breaker as a value type, driven by an injected time: closed → open after
/// `failureThreshold` consecutive failures; while open every call is refused at once (nobody
/// waits for a timeout); after `openDuration` one probe is let through (half-open): its success
/// closes the breaker, its failure opens it again.
public struct CircuitBreaker: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        case closed(failures: Int)
        case open(until: Nanoseconds)
        case halfOpen(probeInFlight: Bool)
    }

    public private(set) var state: State = .closed(failures: 0)
    public let failureThreshold: Int
    public let openDuration: Nanoseconds

    public init(failureThreshold: Int = 5, openDuration: Nanoseconds = 1_000_000_000) {
        self.failureThreshold = max(failureThreshold, 1)
        self.openDuration = max(openDuration, 0)
    }

    /// Whether a call may go to the backend now. In half-open state only one probe at a time.
    public mutating func allow(now: Nanoseconds) -> Bool {
        switch state {
        case .closed: return true
        case .open(let until):
            guard now >= until else { return false }
            state = .halfOpen(probeInFlight: true)
            return true
        case .halfOpen(let busy):
            if busy { return false }
            state = .halfOpen(probeInFlight: true)
            return true
        }
    }

    public mutating func recordSuccess() {
        state = .closed(failures: 0)
    }

    public mutating func recordFailure(now: Nanoseconds) {
        switch state {
        case .closed(let failures):
            state = failures + 1 >= failureThreshold ? .open(until: now + openDuration) : .closed(failures: failures + 1)
        case .open, .halfOpen:
            state = .open(until: now + openDuration)
        }
    }

    /// True unless the breaker is open (half-open counts as usable: a probe is due).
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }
}
