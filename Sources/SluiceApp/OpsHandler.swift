public import NIOCore
public import RateLimitCore
public import RateLimitHTTP
public import RateLimitMetrics
import Synchronization

/// What `/readyz` reports: ready when the config is loaded, the socket is listening, and the
/// backend is usable (asked of the backend's probe on every `/readyz`).
public final class Readiness: Sendable {
    private let configLoaded = Atomic<Bool>(false)
    private let listening = Atomic<Bool>(false)
    private let backendProbe = Mutex<(@Sendable () -> Bool)?>(nil)

    public init() {}

    /// Asks `probe` on every `/readyz` whether the backend is usable.
    public func setBackendProbe(_ probe: @escaping @Sendable () -> Bool) { backendProbe.withLock { $0 = probe } }

    public func setConfigLoaded(_ value: Bool) { configLoaded.store(value, ordering: .releasing) }
    public func setListening(_ value: Bool) { listening.store(value, ordering: .releasing) }

    /// The failing conditions; empty when ready.
    public var problems: [String] {
        var out: [String] = []
        if !configLoaded.load(ordering: .acquiring) { out.append("configuration not loaded") }
        if !listening.load(ordering: .acquiring) { out.append("socket not listening") }
        let probe = backendProbe.withLock { $0 }
        if probe?() == false { out.append("backend not usable") }
        return out
    }
}

/// The TCP listener: `GET /metrics`, `/healthz`, `/readyz`. Nothing here changes state.
public final class OpsHandler: Sendable {
    let limiter: RateLimiter
    let metrics: SluiceMetrics
    let readiness: Readiness

    public init(limiter: RateLimiter, metrics: SluiceMetrics, readiness: Readiness) {
        self.limiter = limiter
        self.metrics = metrics
        self.readiness = readiness
    }

    public func handle(_ request: HTTPRequest, allocator: ByteBufferAllocator) -> HTTPResponse {
        var response = HTTPResponse(status: .ok, headers: allocator.buffer(capacity: 0), body: allocator.buffer(capacity: 64))
        guard ["/metrics", "/healthz", "/readyz"].contains(request.path) else {
            response.fail(.notFound, "no such endpoint: \(request.path) (this port serves /metrics, /healthz, /readyz)")
            return response
        }
        guard request.method == .get || request.method == .head else {
            response.fail(.methodNotAllowed, "only GET is served on this port")
            response.addHeader("Allow", "GET, HEAD")
            return response
        }
        switch request.path {
        case "/metrics":
            var tracked = 0  // the same pass over the stripes gives both gauges
            for (rule, count) in limiter.activeClients() {
                metrics.recorder(forRule: rule).setActiveClients(count)
                tracked += count
            }
            for (rule, count) in limiter.leasesActive() { metrics.recorder(forRule: rule).setLeasesActive(count) }
            metrics.trackedKeys.set(to: Double(tracked))
            metrics.evictedAtCapacity(total: limiter.store.evictedAtCapacity)
            response.contentType = "text/plain; version=0.0.4; charset=utf-8"
            response.body.writeBytes(metrics.render(now: limiter.clock.now))
        case "/healthz":
            response.body.writeStaticString("{\"status\":\"ok\"}")
        default:
            let problems = readiness.problems
            if problems.isEmpty {
                response.body.writeStaticString("{\"status\":\"ready\"}")
            } else {
                response.fail(.serviceUnavailable, problems.joined(separator: "; "))
            }
        }
        return response
    }
}
