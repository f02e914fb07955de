import NIOCore

/// The life of one Redis connection as a value: when to connect, how long to back off after a
/// failure, where a command goes, when the written commands are flushed, and that nothing is
/// sent once the connection is closed. Events in, actions out; time (and the backoff's jitter)
/// are inputs, so every transition is tested without a socket. `RedisConnection` performs the
/// actions on its event loop.
///
/// `Link` is the connected channel and `Attempt` a connection attempt in progress (a future
/// that commands arriving meanwhile wait on); tests use plain objects.
struct RedisConnectionState<Link, Attempt> {
    enum State {
        /// Not connected. `lastError`: why the last attempt failed, repeated while backing off
        /// (a TLS failure stays a TLS failure in every answer, not "reconnecting").
        case idle(retryAt: NIODeadline, failures: Int, lastError: RedisConnectionError?)
        case connecting(Attempt, failures: Int)
        case ready(Link)
        /// Closed for good (shutdown): every command fails at once.
        case closed
    }

    /// Where one command goes.
    enum SendAction {
        /// Write it on the connected channel; `scheduleFlush`: the first write since the last
        /// flush, so one flush is due at the end of this event-loop tick.
        case write(Link, scheduleFlush: Bool)
        /// Wait for the attempt in progress.
        case wait(Attempt)
        /// Start an attempt (then report it with `connecting`) and wait for it.
        case connect
        /// Fail it now.
        case fail(RedisConnectionError)
    }

    static var firstBackoff: TimeAmount { .milliseconds(50) }
    static var maxBackoff: TimeAmount { .seconds(5) }

    private(set) var state: State = .idle(retryAt: .uptimeNanoseconds(0), failures: 0, lastError: nil)
    /// A flush is due at the end of this tick (commands written meanwhile share one syscall).
    private(set) var flushScheduled = false

    /// A command to send at `now`; `isActive` tells whether a channel still is (one can close
    /// before its close is reported).
    mutating func send(now: NIODeadline, isActive: (Link) -> Bool) -> SendAction {
        switch state {
        case .ready(let link) where isActive(link):
            defer { flushScheduled = true }
            return .write(link, scheduleFlush: !flushScheduled)
        case .ready:
            state = .idle(retryAt: now, failures: 0, lastError: nil)
            return send(now: now, isActive: isActive)
        case .connecting(let attempt, _):
            return .wait(attempt)
        case .idle(let retryAt, let failures, let lastError):
            guard now >= retryAt else { return .fail(lastError ?? .unavailable("reconnecting (attempt \(failures + 1) soon)")) }
            return .connect
        case .closed:
            return .fail(.closed)
        }
    }

    /// The attempt that `send` asked for has started.
    mutating func connecting(_ attempt: Attempt) {
        guard case .idle(_, let failures, _) = state else { return }
        state = .connecting(attempt, failures: failures)
    }

    /// The attempt succeeded. Returns a channel to close: this one, if the connection was
    /// closed meanwhile.
    mutating func connected(_ link: Link) -> Link? {
        guard case .connecting = state else { return link }
        state = .ready(link)
        return nil
    }

    /// The attempt failed at `now`: back off, longer after each failure in a row. `jitter` is
    /// any random number (the backoff is half fixed, half `jitter`'s share).
    mutating func connectFailed(_ error: RedisConnectionError?, now: NIODeadline, jitter: UInt64) {
        guard case .connecting(_, let failures) = state else { return }
        state = .idle(retryAt: now + Self.backoff(failures: failures + 1, jitter: jitter), failures: failures + 1, lastError: error)
    }

    /// A channel closed (Redis went away, a timeout, `drop`); `isCurrent` tells whether it is
    /// the connected one (an older channel's close changes nothing). The next command connects
    /// at once.
    mutating func closed(now: NIODeadline, isCurrent: (Link) -> Bool) {
        guard case .ready(let current) = state, isCurrent(current) else { return }
        state = .idle(retryAt: now, failures: 0, lastError: nil)
    }

    /// The tick's flush ran; returns the channel to flush now (none when not connected).
    mutating func flushed() -> Link? {
        flushScheduled = false
        if case .ready(let link) = state { return link }
        return nil
    }

    /// Shutdown: nothing is sent from now on. Returns the channel to close.
    mutating func close() -> Link? {
        defer { state = .closed }
        if case .ready(let link) = state { return link }
        return nil
    }

    /// The channel to close so that the next command connects again (Sentinel named a new
    /// master); the state changes when its close is reported.
    var linkToDrop: Link? {
        if case .ready(let link) = state { return link }
        return nil
    }

    /// Exponential backoff with "equal jitter": half fixed, half random.
    static func backoff(failures: Int, jitter: UInt64) -> TimeAmount {
        let exponent = min(max(failures - 1, 0), 16)
        let full = min(firstBackoff.nanoseconds << exponent, maxBackoff.nanoseconds)
        return .nanoseconds(full / 2 + Int64(jitter % UInt64(full / 2 + 1)))
    }
}
