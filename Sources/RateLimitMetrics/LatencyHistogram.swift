import Glibc
import Prometheus
import Synchronization

/// One endpoint's series of `rate_limiter_request_duration_seconds`, recorded on every answer.
///
/// swift-prometheus's histogram takes one lock per record that every event-loop thread shares,
/// and compares the value with every bucket under it: about 0.3 µs of a gRPC call, measured by
/// turning it off. This one keeps a stripe of counts per thread (`ThreadStripe`), each behind
/// its own lock in its own cache lines, adds to one bucket, and sums the stripes when scraped.
/// The exposition is byte for byte what swift-prometheus wrote.
public final class LatencyHistogram: @unchecked Sendable {  // `stripes` is set in init only; each stripe is behind its Mutex
    struct Counts {
        /// Per bucket of `bounds` (not cumulative), then +Inf.
        var buckets: [UInt64]
        var sumNanoseconds: UInt64 = 0
        /// Keeps neighbouring stripes out of each other's cache lines (two 64-byte lines).
        private var padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        init(buckets: Int) { self.buckets = Array(repeating: 0, count: buckets + 1) }
    }

    static let stripeCount = 8
    /// The bucket bounds in nanoseconds, ascending.
    let bounds: [Int64]
    /// The `le` labels, as swift-prometheus writes them.
    let boundLabels: [String]
    /// `endpoint="…"`.
    let label: String
    private let stripes: UnsafeMutablePointer<Mutex<Counts>>

    init(endpoint: String, buckets: [Duration]) {
        bounds = buckets.map { Int64($0.components.seconds) * 1_000_000_000 + $0.components.attoseconds / 1_000_000_000 }
        boundLabels = buckets.map(\.bucketRepresentation)
        label = "endpoint=\"\(RuleMetricsTable.escape(endpoint))\""
        stripes = .allocate(capacity: Self.stripeCount)
        for i in 0..<Self.stripeCount { (stripes + i).initialize(to: Mutex(Counts(buckets: buckets.count))) }
    }

    deinit {
        stripes.deinitialize(count: Self.stripeCount)
        stripes.deallocate()
    }

    /// Records one answer's duration (negative counts as 0).
    public func recordNanoseconds(_ nanoseconds: Int64) {
        var bucket = 0
        while bucket < bounds.count, nanoseconds > bounds[bucket] { bucket += 1 }
        let added = UInt64(max(nanoseconds, 0))
        stripes[ThreadStripe.current & (Self.stripeCount - 1)].withLock { counts in
            counts.buckets[bucket] &+= 1
            counts.sumNanoseconds &+= added
        }
    }

    /// The stripes summed: per bucket (not cumulative, +Inf last) and the sum in nanoseconds.
    func snapshot() -> (buckets: [UInt64], sumNanoseconds: UInt64) {
        var total = Counts(buckets: bounds.count)
        for i in 0..<Self.stripeCount {
            stripes[i].withLock { counts in
                for b in counts.buckets.indices { total.buckets[b] &+= counts.buckets[b] }
                total.sumNanoseconds &+= counts.sumNanoseconds
            }
        }
        return (total.buckets, total.sumNanoseconds)
    }

    /// The series' lines: cumulative buckets, `_sum` and `_count`.
    func render(name: String, into out: inout String) {
        let (buckets, sum) = snapshot()
        var cumulative: UInt64 = 0
        for (i, le) in boundLabels.enumerated() {
            cumulative &+= buckets[i]
            out += "\(name)_bucket{\(label),le=\"\(le)\"} \(cumulative)\n"
        }
        cumulative &+= buckets[bounds.count]
        out += "\(name)_bucket{\(label),le=\"+Inf\"} \(cumulative)\n"
        out += "\(name)_sum{\(label)} \(Duration.nanoseconds(Int64(clamping: sum)).bucketRepresentation)\n"
        out += "\(name)_count{\(label)} \(cumulative)\n"
    }
}

/// A small number for the calling thread, handed out in turn on first use: the event-loop
/// threads (one per core) each get a stripe of their own while there are enough stripes.
enum ThreadStripe {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
    private static let next = Atomic<Int>(0)

    static var current: Int {
        if let stored = pthread_getspecific(key) { return Int(bitPattern: stored) - 1 }
        let assigned = next.wrappingAdd(1, ordering: .relaxed).oldValue
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: assigned + 1))
        return assigned
    }
}

/// `rate_limiter_request_duration_seconds`: one `LatencyHistogram` per endpoint, rendered after
/// the registry's families.
public final class LatencyHistograms: Sendable {
    static let name = "rate_limiter_request_duration_seconds"
    private let byEndpoint = Mutex<[(endpoint: String, histogram: LatencyHistogram)]>([])
    private let buckets: [Duration]

    init(buckets: [Duration]) {
        self.buckets = buckets
    }

    /// The endpoint's histogram: the same object for the same endpoint.
    func histogram(endpoint: String) -> LatencyHistogram {
        byEndpoint.withLock { list in
            if let existing = list.first(where: { $0.endpoint == endpoint }) { return existing.histogram }
            let made = LatencyHistogram(endpoint: endpoint, buckets: buckets)
            list.append((endpoint, made))
            return made
        }
    }

    func render(into buffer: inout [UInt8]) {
        let histograms = byEndpoint.withLock { $0.map(\.histogram) }
        guard !histograms.isEmpty else { return }
        var out = "# HELP \(Self.name) Server-side latency of API calls.\n# TYPE \(Self.name) histogram\n"
        for histogram in histograms { histogram.render(name: Self.name, into: &out) }
        buffer.append(contentsOf: out.utf8)
    }
}
