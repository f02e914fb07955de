#if canImport(Glibc)
import Glibc
#endif

/// The process's open-file limit against the listeners' connection caps (red team 2, F20).
public enum FileDescriptorLimit {
    /// Descriptors kept for everything but connections: listeners, Redis, the config file,
    /// /proc reads for the metrics, the runtime's own.
    public static let reserve = 64

    /// Raises the soft `RLIMIT_NOFILE` to the hard limit (as Go's runtime does) and returns the
    /// soft limit now in force; nil when it cannot be read.
    public static func raiseToHardLimit() -> Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }

    /// The caps scaled down, in proportion, to fit `available` descriptors less the reserve.
    /// Unchanged when they fit.
    public static func fit(_ caps: [Int], available: Int) -> [Int] {
        let budget = max(available - reserve, caps.count)
        let total = caps.reduce(0, +)
        guard total > budget else { return caps }
        return caps.map { max(1, $0 * budget / total) }
    }
}
