public import Logging
public import NIOCore
public import NIOPosix
import RateLimitConfig
public import RateLimitCore
import RateLimitHTTP
public import RateLimitMetrics
import RateLimitRedis
public import ServiceLifecycle

/// The whole sidecar, built from parsed options, a clock and a logger: the services to run in a
/// `ServiceGroup`, in the order they start (they stop in reverse: listeners first, then the
/// sweeper, the state file and the Redis store). The executable and the tests build it alike.
public struct Application: Sendable {
    /// A listener that is accepting, as `listening` reports it.
    public enum Listener: Sendable, Equatable {
        case api(path: String)
        case metrics(port: Int)
        case grpc(path: String)
    }

    public let services: [any Service]
    /// Which services end the group when they return (the listeners do).
    let endsGroup: [Bool]
    public let limiter: RateLimiter
    public let metrics: SluiceMetrics
    public let reloader: ConfigReloader
    /// What `/readyz` answers from (configuration, listener, backend).
    public let readiness: Readiness
    /// Each listener once it accepts connections; finished when the listeners stop.
    public let listening: AsyncStream<Listener>

    /// The services, configured for a `ServiceGroup`: a listener that returns ends the group.
    public var serviceConfigurations: [ServiceGroupConfiguration.ServiceConfiguration] {
        zip(services, endsGroup).map { service, ends in
            .init(service: service, successTerminationBehavior: ends ? .gracefullyShutdownGroup : .ignore)
        }
    }

    /// Loads the configuration and builds every service; nothing listens until they run.
    /// - Parameter group: the API's and gRPC's event loops (the metrics listener has its own).
    public static func build(
        options: AppOptions, clock: any NanosecondClock, logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(StartError) -> Application {
        let configuration = try loadConfiguration(options.configPath)
        let metrics = SluiceMetrics(version: options.version, revision: options.revision, topKeys: try topKeys(options))
        let keyCap = options.maxKeys ?? configuration.maxKeys ?? AppOptions.defaultMaxKeys
        metrics.trackedKeysLimit.set(to: Double(keyCap))
        let limiter = RateLimiter(
            rules: configuration.rules, clock: clock, store: MemoryStore(maxKeys: keyCap),
            makeRecorder: { rule in metrics.recorder(forRule: rule.name) },
            rulesInstalled: { rules in
                metrics.rules.retain(only: Set(rules.rules.map(\.name)))
                metrics.rulesInForce(sha256: rules.sha256)
            })
        metrics.configLoaded(true, unixSeconds: Double(clock.now) / 1e9)
        var services: [(any Service, Bool)] = []
        var stateFile: StateFileService?
        if let path = options.stateFile, case .memory = configuration.backend {
            let file = StateFileService(path: path, limiter: limiter, logger: logger)
            file.restore(metrics: metrics)
            stateFile = file
        }
        let readiness = Readiness()
        readiness.setConfigLoaded(true)
        var redis: RedisStore?
        switch configuration.backend {
        case .memory:
            metrics.backendUp("memory").set(to: 1.0)
        case .redis(let settings):
            let store = try RedisWiring.store(settings, group: group, limiter: limiter, metrics: metrics, logger: logger)
            try await RedisWiring.requireTLSHandshake(store, settings)
            store.start()
            readiness.setBackendProbe { store.isUsable }
            redis = store
            services.append((RedisStoreService(store: store), false))
        }
        if let stateFile { services.append((stateFile, false)) }
        services.append((IdleKeySweeper(limiter: limiter, interval: options.sweepInterval, metrics: metrics), false))

        let reloader = ConfigReloader(path: options.configPath, backend: configuration.backend, limiter: limiter, metrics: metrics, logger: logger)
        let pipeline = DecisionPipeline(limiter: limiter, remote: redis, maxInflight: options.maxInflight, observer: PipelineMetrics(metrics))
        let api = APIHandler(
            pipeline: pipeline, observer: APIMetrics(metrics), parseRule: { try ConfigLoader.parseRule($0) }, reloader: reloader,
            adminEnabled: options.adminEnabled)
        let ops = OpsHandler(limiter: limiter, metrics: metrics, readiness: readiness)
        let (listening, announce) = AsyncStream<Listener>.makeStream()

        var settings = ServerSettings(socketPath: options.socketPath)
        settings.metricsHost = options.metricsHost
        settings.metricsPort = options.metricsPort
        let caps = fittedConnectionCaps(options, metricsCap: settings.maxMetricsConnections, logger: logger)
        settings.maxConnections = caps.api
        settings.maxMetricsConnections = caps.metrics
        settings.connectionObserver = { listener in connectionObserver(metrics, listener: listener) }
        settings.metricsGroup = metricsGroup
        settings.idleTimeout = options.idleTimeout
        settings.requestTimeout = options.requestTimeout
        let server = SluiceServer(settings: settings, group: group, api: api, ops: ops.handle, logger: logger)
        services.append((
            HTTPServerService(server: server, path: options.socketPath, mode: options.socketMode, readiness: readiness, announce: announce),
            true))
        if let grpcSocket = options.grpcSocketPath {
            let connections = ConnectionRegistry(
                maxConnections: caps.grpc, minQuietToDrain: .seconds(1), observer: connectionObserver(metrics, listener: .grpc))
            let grpc = GRPCListener(
                path: grpcSocket, mode: options.socketMode, group: group, pipeline: pipeline, observer: GRPCMetrics(metrics),
                connections: connections, idleTimeout: options.idleTimeout, logger: logger,
                listening: { announce.yield(.grpc(path: grpcSocket)) })
            services.append((ListenerService(grpc.run, finishing: announce), true))
        }
        if options.reloadOnSIGHUP { services.append((ReloadOnSignal(reloader: reloader), false)) }
        if let path = options.configPath { services.append((WatchConfigFile(path: path, reloader: reloader), false)) }
        return Application(
            services: services.map(\.0), endsGroup: services.map(\.1), limiter: limiter, metrics: metrics, reloader: reloader,
            readiness: readiness, listening: listening)
    }

    /// The metrics listener's own event loop, shared by every app in the process: a flood of
    /// scrapes on the network-reachable port must not delay the API. Never shut down.
    static let metricsGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func loadConfiguration(_ path: String?) throws(StartError) -> Configuration {
        do throws(ConfigError) {
            if let path { return try ConfigFile.load(path: path) }
            return try EmbeddedDefaults.configuration()
        } catch {
            throw StartError("invalid configuration\(path.map { " in \($0)" } ?? ""): \(error.description)")
        }
    }

    static func topKeys(_ options: AppOptions) throws(StartError) -> TopKeysSettings {
        var settings = options.topKeys
        if let file = options.topKeysMetricSecretFile {
            guard let text = try? ConfigFile.read(path: file), let secret = text.split(whereSeparator: \.isNewline).first, !secret.isEmpty else {
                throw StartError("--top-keys-metric-secret: cannot read a secret from \(file)")
            }
            settings.labelSecret = Array(secret.utf8)
        }
        return settings
    }

    /// The connection caps of the API, gRPC and metrics listeners, fitted to the open-file limit
    /// (raised to its hard limit first): running out of descriptors stalls every listener and
    /// the config watcher, so the caps shrink instead, with a warning saying what to do.
    static func fittedConnectionCaps(_ options: AppOptions, metricsCap: Int, logger: Logger) -> (api: Int, grpc: Int, metrics: Int) {
        let wanted = [options.maxConnections, options.grpcSocketPath == nil ? 0 : options.maxConnections, metricsCap]
        guard let available = FileDescriptorLimit.raiseToHardLimit() else { return (wanted[0], wanted[1], wanted[2]) }
        let fitted = FileDescriptorLimit.fit(wanted, available: available)
        if fitted != wanted {
            logger.warning(
                "the open-file limit cannot hold every connection cap; caps lowered. Raise the limit (ulimit -n, or the container runtime's nofile) or lower --max-connections",
                metadata: ["nofile": "\(available)", "api": "\(fitted[0])", "grpc": "\(fitted[1])", "metrics": "\(fitted[2])"])
        }
        return (fitted[0], max(fitted[1], 1), fitted[2])
    }
}
