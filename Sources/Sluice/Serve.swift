import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import RateLimitConfig
import RateLimitCore
import ServiceLifecycle
import SluiceApp

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

    func validate() throws { _ = try options() }

    /// The flags as the app's options, or the first one that is wrong.
    func options() throws -> AppOptions {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be from 1 to 256") }
        var options = AppOptions(socketPath: socket)
        guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777 else {
            throw ValidationError("--socket-mode must be octal permission bits such as 0660")
        }
        guard let (host, port) = AppOptions.parseAddress(metricsAddress) else {
            throw ValidationError("--metrics-address must be HOST:PORT, e.g. 127.0.0.1:9780")
        }
        var timeouts: [Int64] = []
        for (name, value) in [("--idle-timeout", idleTimeout), ("--request-timeout", requestTimeout)] {
            guard let ns = DurationParser.parse(value), ns > 0 else { throw ValidationError("\(name) must be a duration such as 10s") }
            timeouts.append(ns)
        }
        (options.metricsHost, options.metricsPort, options.socketMode) = (host, port, mode)
        (options.idleTimeout, options.requestTimeout) = (.nanoseconds(timeouts[0]), .nanoseconds(timeouts[1]))
        (options.configPath, options.grpcSocketPath, options.adminEnabled) = (config, grpcSocket, !noAdmin)
        (options.maxConnections, options.maxInflight, options.maxKeys) = (maxConnections, maxInflight, maxKeys)
        (options.stateFile, options.topKeysMetricSecretFile) = (stateFile, topKeysMetricSecret)
        (options.topKeys.capacity, options.topKeys.exported) = (topKeys, topKeysMetric)
        (options.version, options.revision) = (SluiceCommand.version, SluiceCommand.revision)
        do throws(StartError) { try options.validate() } catch { throw ValidationError(error.description) }
        return options
    }

    func run() async throws {
        bootstrapLogging(format: logFormat, level: Logger.Level(rawValue: logLevel) ?? .info)
        let logger = Logger(label: "sluice")
        // The process-wide group, sized by --threads; never shut down: the process exits next.
        NIOSingletons.groupLoopCountSuggestion = threads
        let options = try options()
        let app: Application
        do throws(StartError) {
            app = try await Application.build(options: options, clock: SystemClock(), logger: logger)
        } catch {
            printError("sluice: \(error.description)")
            throw ExitCode(1)
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: app.serviceConfigurations, gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
        do {
            try await group.run()
        } catch {
            printError("sluice: \(error)")
            throw ExitCode(1)
        }
    }
}
