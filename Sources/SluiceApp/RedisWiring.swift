import Logging
import NIOCore
import RateLimitConfig
import RateLimitCore
import RateLimitMetrics
import RateLimitRedis

/// `backend.redis` → a started-ready `RedisStore`; a setting that cannot work is a `StartError`
/// naming the field.
enum RedisWiring {
    static func store(
        _ settings: RedisSettings, group: any EventLoopGroup, limiter: RateLimiter, metrics: SluiceMetrics, logger: Logger
    ) throws(StartError) -> RedisStore {
        var endpoint: RedisEndpoint
        do {
            endpoint = try RedisEndpoint(url: settings.url)
        } catch {
            throw StartError("invalid configuration: backend.redis.url: \(error)")
        }
        if let file = settings.passwordFile {
            endpoint.password = try readPassword(file, field: "backend.redis.password_file")
        }
        if let sentinel = settings.sentinel {
            let password = try sentinel.passwordFile.map { file throws(StartError) in
                try readPassword(file, field: "backend.redis.sentinel.password_file")
            }
            endpoint.topology = .sentinel(
                master: sentinel.master, sentinels: sentinel.addresses.map { .tcp(host: $0.host, port: $0.port) }, password: password)
        }
        if let cluster = settings.cluster {
            guard endpoint.database == 0 else {
                throw StartError("invalid configuration: backend.redis.url: a Redis Cluster has only database 0")
            }
            endpoint.topology = .cluster(seeds: cluster.addresses.map { .tcp(host: $0.host, port: $0.port) })
        }
        if let tls = settings.tls {
            endpoint.tls = RedisTLS(caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile, serverName: tls.serverName)
        }
        var options = RedisStoreOptions()
        options.timeout = .milliseconds(Int64(settings.timeoutMilliseconds))
        options.onFailure = settings.onFailure
        logger.info("redis backend", metadata: ["redis": "\(endpoint)", "on_failure": "\(settings.onFailure.rawValue)"])
        do {
            return try RedisStore(
                endpoint: endpoint, options: options, group: group, fallback: limiter.store, clock: limiter.clock,
                observer: BackendMetrics(metrics: metrics), logger: logger)
        } catch {
            throw StartError("invalid configuration: backend.redis.tls.\(error)")
        }
    }

    /// The first line of `file`, or a `StartError` naming `field`.
    static func readPassword(_ file: String, field: String) throws(StartError) -> String {
        guard let text = try? ConfigFile.read(path: file), let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty else {
            throw StartError("invalid configuration: \(field): cannot read a password from \(file)")
        }
        return String(line)
    }

    /// With `on_failure: deny` Redis is required, so a TLS handshake that fails (an untrusted
    /// certificate, a wrong name) is a configuration error at start, not an outage to wait out.
    static func requireTLSHandshake(_ store: RedisStore, _ settings: RedisSettings) async throws(StartError) {
        guard settings.onFailure == .deny, settings.tls != nil || settings.url.hasPrefix("rediss://") else { return }
        if case .tls(let why)? = await store.firstContact() {
            throw StartError("backend.redis.tls: the TLS handshake with Redis failed (on_failure is deny): \(why)")
        }
    }
}
