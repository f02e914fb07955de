#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import RateLimitCore

/// Wall-clock time (CLOCK_REALTIME) in nanoseconds since the Unix epoch, so fixed windows align
/// across pods.
public struct SystemClock: NanosecondClock {
    public init() {}

    public var now: Nanoseconds {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}
