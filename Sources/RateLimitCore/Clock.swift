import Synchronization

/// A source of the current time in integer nanoseconds since the clock's epoch.
///
/// Fixed windows align to multiples of the period from this epoch, so replicas that share a
/// backend must use clocks with the same epoch (the system clock's is the Unix epoch).
public protocol NanosecondClock: Sendable {
    var now: Nanoseconds { get }
}

/// A clock that moves only when told to: for tests and replay.
public final class ManualClock: NanosecondClock {
    private let value: Atomic<Int64>

    public init(now: Nanoseconds = 0) {
        self.value = Atomic(now)
    }

    public var now: Nanoseconds { value.load(ordering: .acquiring) }

    /// Moves the clock forward by `delta` nanoseconds.
    public func advance(by delta: Nanoseconds) {
        value.add(delta, ordering: .acquiringAndReleasing)
    }

    /// Sets the clock to `instant`.
    public func set(_ instant: Nanoseconds) {
        value.store(instant, ordering: .releasing)
    }
}

extension Nanoseconds {
    public static func milliseconds(_ ms: Int64) -> Nanoseconds { ms * 1_000_000 }
    public static func seconds(_ s: Int64) -> Nanoseconds { s * 1_000_000_000 }
}
