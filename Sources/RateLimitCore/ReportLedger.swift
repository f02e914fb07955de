import Synchronization

/// One "record `cost` units that `key` already used under `rule`" (`POST /v1/report`).
public struct ReportRequest: Sendable, Hashable {
    public var rule: String
    public var key: String
    /// Units used; negative refunds. Within ±`Limits.maxLimit`.
    public var cost: Int64
    /// Idempotency key: a report with an `id` seen for the same rule and key within
    /// `ReportLedger.window` is answered but not recorded again.
    public var id: String?

    public init(rule: String, key: String, cost: Int64, id: String? = nil) {
        self.rule = rule
        self.key = key
        self.cost = cost
        self.id = id
    }

    /// Longest `id`, in UTF-8 bytes.
    public static let maxIDBytes = 128
}

/// The idempotency ids of the memory store's reports, per process: each is remembered for
/// `window` after its first use, at most `capacity` at once (past that, the oldest is forgotten
/// early, so a retry of it would count again; `forgotten` counts those).
public final class ReportLedger: Sendable {
    /// How long an id is remembered: 10 minutes.
    public static let window: Nanoseconds = 600 * 1_000_000_000
    /// Most ids remembered at once.
    public static let defaultCapacity = 100_000

    struct State {
        var expiries: [String: Nanoseconds] = [:]
        /// Ids in the order they were first seen (= the order they expire: one fixed window).
        var queue: [(id: String, expires: Nanoseconds)] = []
        var head = 0
        var forgotten = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    public init(capacity: Int = ReportLedger.defaultCapacity) {
        self.capacity = max(capacity, 1)
    }

    /// Records `id` of `rule`/`key` at `now`; false when it was already seen within the window.
    public func firstUse(rule: String, key: String, id: String, now: Nanoseconds) -> Bool {
        // Keys and ids have no control characters, so NUL separates the three unambiguously.
        let entry = rule + "\u{0}" + key + "\u{0}" + id
        return state.withLock { s in
            while s.head < s.queue.count, s.queue[s.head].expires <= now { s.drop() }
            if let expires = s.expiries[entry], expires > now { return false }
            if s.expiries.count >= capacity {
                s.drop()
                s.forgotten += 1
            }
            s.expiries[entry] = now + Self.window
            s.queue.append((entry, now + Self.window))
            return true
        }
    }

    /// Ids remembered now, and ids forgotten before their window ended (at the cap).
    public var counts: (remembered: Int, forgotten: Int) { state.withLock { ($0.expiries.count, $0.forgotten) } }
}

extension ReportLedger.State {
    /// Forgets the oldest id; compacts the queue once half of it is consumed.
    mutating func drop() {
        guard head < queue.count else { return }
        expiries.removeValue(forKey: queue[head].id)
        head += 1
        if head >= 1024, head * 2 >= queue.count {
            queue.removeFirst(head)
            head = 0
        }
    }
}
