import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import RateLimitConfig
import RateLimitCore
import RateLimitHTTP
import RateLimitMetrics
import ServiceLifecycle
import UnixSignals

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the sidecar.")

    @Option(help: "Configuration file (YAML). Without it, the embedded default rules are used.")
    var config: String?

    @Option(help: "Path of the API's Unix socket.")
    var socket = "/tmp/sluice.sock"

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

    @Option(help: "Most simultaneous API connections; more are closed.")
    var maxConnections = 1024

    @Option(help: "Most API requests processed at once; more get 503.")
    var maxInflight = 4096

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
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard maxInflight >= 0 else { throw ValidationError("--max-inflight must not be negative") }
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
        if case .redis = configuration.backend {
            printError("sluice: backend type redis is not available in this build yet; use type: memory")
            throw ExitCode(1)
        }

        let metrics = SluiceMetrics(version: SluiceCommand.version)
        metrics.backendUp(configuration.backend.name).set(to: 1.0)
        let limiter = RateLimiter(rules: configuration.rules, clock: SystemClock()) { rule in
            metrics.recorder(forRule: rule.name)
        }
        let readiness = Readiness()
        readiness.setConfigLoaded(true)
        let reloader = ConfigReloader(path: config, backend: configuration.backend, limiter: limiter, metrics: metrics, logger: logger)
        let api = APIHandler(limiter: limiter, metrics: metrics, reloader: reloader, adminEnabled: !noAdmin, maxInflight: maxInflight)
        let ops = OpsHandler(limiter: limiter, metrics: metrics, readiness: readiness)

        var settings = ServerSettings(socketPath: socket)
        let (host, port) = try parseAddress(metricsAddress)
        settings.metricsHost = host
        settings.metricsPort = port
        settings.socketMode = UInt32(socketMode, radix: 8) ?? 0o660
        settings.maxConnections = maxConnections
        settings.idleTimeout = .nanoseconds(DurationParser.parse(idleTimeout) ?? 60_000_000_000)
        settings.requestTimeout = .nanoseconds(DurationParser.parse(requestTimeout) ?? 10_000_000_000)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let server = SluiceServer(
            settings: settings, group: group, api: api, ops: ops, limiter: limiter, readiness: readiness, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: ReloadOnSignal(reloader: reloader), successTerminationBehavior: .ignore),
        ]
        if let path = config {
            services.append(.init(service: WatchConfigFile(path: path, reloader: reloader), successTerminationBehavior: .ignore))
        }
        let serviceGroup = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        do {
            try await serviceGroup.run()
        } catch {
            printError("sluice: \(error)")
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        try await group.shutdownGracefully()
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

