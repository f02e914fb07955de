import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import RateLimitConfig
import RateLimitCore
public import RateLimitHTTP
import RateLimitMetrics
import RateLimitRedis
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the sidecar.")

    @Option(help: "Configuration file (YAML). Without it, the embedded default rules are used.")
    var config: String?

    @Option(help: "Path of the API's Unix socket.")
    var socket = "/tmp/sluice.sock"

    @Option(help: "Also serve gRPC (sluice.v1.RateLimiter and Envoy RLS v3) on this Unix socket.")
    var grpcSocket: String?

    @Option(help: "HOST:PORT of the /metrics, /healthz and /readyz listener.")
    var metricsAddress = "127.0.0.1:9780"

    @Option(help: "Log format: text or json.")
    var logFormat: LogFormat = .text

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(help: "Event-loop threads (default: the number of cores).")
    var threads: Int = System.coreCount

    @Option(help: "Permission bits of the socket file, in octal.")
    var socketMode = "0660"

    @Flag(help: "Turn off the admin endpoints (/v1/rules, /v1/reload).")
    var noAdmin = false

    @Option(help: "Most simultaneous connections per socket (API and gRPC); at the cap the longest-idle one is closed to admit a new one.")
    var maxConnections = 1024

    @Option(help: "Most requests waiting for the Redis backend at once; more get 503. (The memory backend decides at once and never waits.)")
    var maxInflight = 4096

    @Option(help: "Most keys held in memory (all rules); at the cap the least recently used key is evicted and starts fresh. Default: backend.max_keys, else 200000 (sized for a 128 MiB limit; see docs/operations.md).")
    var maxKeys: Int?

    @Option(help: "Memory backend: write the key states here at shutdown and restore them at start (counters survive a restart).")
    var stateFile: String?

    @Option(help: "Keys tracked per rule for GET /v1/top (by requests and by denials, over the last 1-2 minutes); 0 turns it off.")
    var topKeys = 64

    @Option(help: "Export the top N keys per rule as rate_limiter_top_key_requests/denied{rule,key} (0: off; at most --top-keys).")
    var topKeysMetric = 0

    @Option(help: "With --top-keys-metric: label keys with their HMAC-SHA256 under the secret in this file, not the key itself.")
    var topKeysMetricSecret: String?

    @Option(help: "Close a connection idle for this long (e.g. 60s).")
    var idleTimeout = "60s"

    @Option(help: "A started request must arrive within this long (e.g. 10s).")
    var requestTimeout = "10s"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be from 1 to 256") }
        guard UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) == true else {
            throw ValidationError("--socket-mode must be octal permission bits such as 0660")
        }
        guard (try? parseAddress(metricsAddress)) != nil else {
            throw ValidationError("--metrics-address must be HOST:PORT, e.g. 127.0.0.1:9780")
        }
        for (name, value) in [("--idle-timeout", idleTimeout), ("--request-timeout", requestTimeout)] {
            guard let ns = DurationParser.parse(value), ns > 0 else { throw ValidationError("\(name) must be a duration such as 10s") }
        }
        if let grpcSocket, grpcSocket == socket {
            throw ValidationError("--grpc-socket must differ from --socket")
        }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        if let maxKeys, !Configuration.maxKeysRange.contains(maxKeys) {
            throw ValidationError("--max-keys must be from \(Configuration.maxKeysRange.lowerBound) to \(Configuration.maxKeysRange.upperBound)")
        }
        guard maxInflight >= 1 else { throw ValidationError("--max-inflight must be at least 1") }
        guard (0...10_000).contains(topKeys) else { throw ValidationError("--top-keys must be from 0 to 10000") }
        guard (0...topKeys).contains(topKeysMetric) else { throw ValidationError("--top-keys-metric must be from 0 to --top-keys (\(topKeys))") }
        guard socket.utf8.count <= UnixSocketPath.maxBytes, grpcSocket.map({ $0.utf8.count <= UnixSocketPath.maxBytes }) ?? true else {
            throw ValidationError("--socket and --grpc-socket must be at most \(UnixSocketPath.maxBytes) bytes (a Unix socket path limit)")
        }
    }

    func run() async throws {
        bootstrapLogging(format: logFormat, level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "sluice")
        let configuration: Configuration
        do throws(ConfigError) {
            if let config { configuration = try ConfigFile.load(path: config) } else { configuration = try EmbeddedDefaults.configuration() }
        } catch {
            printError("sluice: invalid configuration\(config.map { " in \($0)" } ?? ""): \(error.description)")
            throw ExitCode(1)
        }
        var topKeySettings = TopKeysSettings()
        topKeySettings.capacity = topKeys
        topKeySettings.exported = topKeysMetric
        if let file = topKeysMetricSecret {
            guard let text = try? ConfigFile.read(path: file), let secret = text.split(whereSeparator: \.isNewline).first, !secret.isEmpty else {
                printError("sluice: --top-keys-metric-secret: cannot read a secret from \(file)")
                throw ExitCode(1)
            }
            topKeySettings.labelSecret = Array(secret.utf8)
        }
        let metrics = SluiceMetrics(version: SluiceCommand.version, revision: SluiceCommand.revision, topKeys: topKeySettings)
        let keyCap = maxKeys ?? configuration.maxKeys ?? Self.defaultMaxKeys
        metrics.trackedKeysLimit.set(to: Double(keyCap))
        let limiter = RateLimiter(
            rules: configuration.rules, clock: SystemClock(), store: MemoryStore(maxKeys: keyCap),
            makeRecorder: { rule in metrics.recorder(forRule: rule.name) },
            rulesInstalled: { rules in
                metrics.rules.retain(only: Set(rules.rules.map(\.name)))
                metrics.rulesInForce(sha256: rules.sha256)
            })
        metrics.configLoaded(true, unixSeconds: Double(SystemClock().now) / 1e9)
        if let stateFile, case .memory = configuration.backend {
            restoreState(from: stateFile, into: limiter, metrics: metrics, logger: logger)
        }
        let readiness = Readiness()
        readiness.setConfigLoaded(true)
        // The process-wide group (never shut down: the gRPC transport may still close
        // connections on it while the process exits), sized by --threads.
        NIOSingletons.groupLoopCountSuggestion = threads
        let group = MultiThreadedEventLoopGroup.singleton
        var redis: RedisStore?
        switch configuration.backend {
        case .memory:
            metrics.backendUp("memory").set(to: 1.0)
        case .redis(let settings):
            let store = try makeRedisStore(settings, group: group, limiter: limiter, metrics: metrics, logger: logger)
            try await requireTLSHandshake(store, settings)
            store.start()
            readiness.setBackendProbe { store.isUsable }
            redis = store
        }
        let reloader = ConfigReloader(path: config, backend: configuration.backend, limiter: limiter, metrics: metrics, logger: logger)
        let pipeline = DecisionPipeline(limiter: limiter, remote: redis, maxInflight: maxInflight, observer: PipelineMetrics(metrics))
        let api = APIHandler(pipeline: pipeline, metrics: metrics, reloader: reloader, adminEnabled: !noAdmin)
        let ops = OpsHandler(limiter: limiter, metrics: metrics, readiness: readiness)

        var settings = ServerSettings(socketPath: socket)
        let (host, port) = try parseAddress(metricsAddress)
        settings.metricsHost = host
        settings.metricsPort = port
        settings.socketMode = UInt32(socketMode, radix: 8) ?? 0o660
        let caps = fittedConnectionCaps(settings: settings, logger: logger)
        settings.maxConnections = caps.api
        settings.maxMetricsConnections = caps.metrics
        settings.connectionObserver = { listener in Self.observer(metrics, listener: listener) }
        // Never shut down, like the singleton group: the process exits after the services stop.
        settings.metricsGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        settings.sweepObserver = { evicted in metrics.keysEvictedIdle.increment(by: Double(evicted)) }
        settings.idleTimeout = .nanoseconds(DurationParser.parse(idleTimeout) ?? 60_000_000_000)
        settings.requestTimeout = .nanoseconds(DurationParser.parse(requestTimeout) ?? 10_000_000_000)

        let server = SluiceServer(
            settings: settings, group: group, api: api, ops: ops, limiter: limiter, readiness: readiness, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: ReloadOnSignal(reloader: reloader), successTerminationBehavior: .ignore),
        ]
        if let grpcSocket {
            let connections = ConnectionRegistry(
                maxConnections: caps.grpc, minQuietToDrain: .seconds(1), observer: Self.observer(metrics, listener: "grpc"))
            services.append(.init(
                service: GRPCListener(
                    path: grpcSocket, mode: settings.socketMode, group: group, pipeline: pipeline,
                    metrics: metrics, connections: connections, idleTimeout: settings.idleTimeout, logger: logger),
                successTerminationBehavior: .gracefullyShutdownGroup))
        }
        if let path = config {
            services.append(.init(service: WatchConfigFile(path: path, reloader: reloader), successTerminationBehavior: .ignore))
        }
        let serviceGroup = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            printError("sluice: \(error)")
            await redis?.shutdown()
            throw ExitCode(1)
        }
        await redis?.shutdown()
        if let stateFile, case .memory = configuration.backend { saveState(to: stateFile, from: limiter, logger: logger) }
        // The singleton group is not shut down: the process exits next.
    }
}

extension Serve {
    /// A missing file is a first start; a bad one is logged and counted, never a failed start.
    func restoreState(from path: String, into limiter: RateLimiter, metrics: SluiceMetrics, logger: Logger) {
        do throws(StateFile.Problem) {
            guard let snapshot = try StateFile.read(path) else { return }
            let (restored, skipped) = limiter.restore(snapshot)
            metrics.stateRestoredKeys.set(to: Double(restored))
            StateFile.remove(path)
            logger.info("key states restored", metadata: ["state_file": "\(path)", "restored": "\(restored)", "skipped": "\(skipped)"])
        } catch {
            metrics.stateRestoreFailures.increment()
            logger.warning("state file ignored; starting with fresh counters", metadata: ["error": "\(error.description)"])
        }
    }

    func saveState(to path: String, from limiter: RateLimiter, logger: Logger) {
        let snapshot = limiter.stateSnapshot()
        do throws(StateFile.Problem) {
            try StateFile.write(snapshot, to: path)
            logger.info("key states saved", metadata: ["state_file": "\(path)", "keys": "\(snapshot.entries.count)"])
        } catch {
            logger.error("could not save the key states", metadata: ["error": "\(error.description)"])
        }
    }

    /// Fits the shipped 128 MiB memory limit with room to spare (docs/operations.md, sizing).
    static let defaultMaxKeys = 200_000

    /// The connection caps of the API, gRPC and metrics listeners, fitted to the open-file limit
    /// (raised to its hard limit first): running out of descriptors stalls every listener and
    /// the config watcher, so the caps shrink instead, with a warning saying what to do.
    func fittedConnectionCaps(settings: ServerSettings, logger: Logger) -> (api: Int, grpc: Int, metrics: Int) {
        let wanted = [maxConnections, grpcSocket == nil ? 0 : maxConnections, settings.maxMetricsConnections]
        guard let available = FileDescriptorLimit.raiseToHardLimit() else { return (wanted[0], wanted[1], wanted[2]) }
        let fitted = FileDescriptorLimit.fit(wanted, available: available)
        if fitted != wanted {
            logger.warning(
                "the open-file limit cannot hold every connection cap; caps lowered. Raise the limit (ulimit -n, or the container runtime's nofile) or lower --max-connections",
                metadata: ["nofile": "\(available)", "api": "\(fitted[0])", "grpc": "\(fitted[1])", "metrics": "\(fitted[2])"])
        }
        return (fitted[0], max(fitted[1], 1), fitted[2])
    }

    static func observer(_ metrics: SluiceMetrics, listener: String) -> ConnectionObserver {
        let (open, rejected) = metrics.connections(listener: listener, reasons: ConnectionRejection.allCases.map(\.rawValue))
        return ConnectionObserver(
            opened: { open.increment() }, closed: { open.decrement() },
            rejected: { reason in rejected[reason.rawValue]?.increment() })
    }
}

/// The Redis store for `backend.redis`; exits 1 with the field named when a setting is unusable.
func makeRedisStore(
    _ settings: RedisSettings, group: any EventLoopGroup, limiter: RateLimiter, metrics: SluiceMetrics, logger: Logger
) throws -> RedisStore {
    var endpoint: RedisEndpoint
    do {
        endpoint = try RedisEndpoint(url: settings.url)
    } catch {
        printError("sluice: invalid configuration: backend.redis.url: \(error)")
        throw ExitCode(1)
    }
    if let file = settings.passwordFile {
        endpoint.password = try readPassword(file, field: "backend.redis.password_file")
    }
    if let sentinel = settings.sentinel {
        let password = try sentinel.passwordFile.map { file in
            try readPassword(file, field: "backend.redis.sentinel.password_file")
        }
        endpoint.topology = .sentinel(
            master: sentinel.master, sentinels: sentinel.addresses.map { .tcp(host: $0.host, port: $0.port) }, password: password)
    }
    if let cluster = settings.cluster {
        guard endpoint.database == 0 else {
            printError("sluice: invalid configuration: backend.redis.url: a Redis Cluster has only database 0")
            throw ExitCode(1)
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
            endpoint: endpoint, options: options, group: group, fallback: limiter.store, clock: SystemClock(),
            observer: BackendMetrics(metrics: metrics), logger: logger)
    } catch {
        printError("sluice: invalid configuration: backend.redis.tls.\(error)")
        throw ExitCode(1)
    }
}

/// The first line of `file`; exits 1 naming `field` when there is none.
func readPassword(_ file: String, field: String) throws -> String {
    guard let text = try? String(contentsOfFile: file, encoding: .utf8),
          let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty else {
        printError("sluice: invalid configuration: \(field): cannot read a password from \(file)")
        throw ExitCode(1)
    }
    return String(line)
}

/// With `on_failure: deny` Redis is required, so a TLS handshake that fails (an untrusted
/// certificate, a wrong name) is a configuration error at start, not an outage to wait out.
func requireTLSHandshake(_ store: RedisStore, _ settings: RedisSettings) async throws {
    guard settings.onFailure == .deny, settings.tls != nil || settings.url.hasPrefix("rediss://") else { return }
    if case .tls(let why)? = await store.firstContact() {
        printError("sluice: backend.redis.tls: the TLS handshake with Redis failed (on_failure is deny): \(why)")
        throw ExitCode(1)
    }
}

/// SIGHUP → reload the configuration file.
struct ReloadOnSignal: Service {
    let reloader: ConfigReloader

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reloader.reload(reason: "SIGHUP")
        }
    }
}

/// Reload when the configuration file's contents change.
struct WatchConfigFile: Service {
    let path: String
    let reloader: ConfigReloader

    func run() async throws {
        let reloader = self.reloader
        await cancelWhenGracefulShutdown {
            await ConfigWatcher(path: path).run { reloader.reload(reason: "file changed") }
        }
    }
}

/// "HOST:PORT" or "[v6]:PORT".
func parseAddress(_ text: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("expected HOST:PORT, got \(text)")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ValidationError("expected HOST:PORT, got \(text)") }
    return (host, port)
}

