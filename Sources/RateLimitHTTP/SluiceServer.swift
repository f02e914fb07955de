public import Logging
public import NIOCore
import NIOPosix

/// Where and how the server listens.
public struct ServerSettings: Sendable {
    public var socketPath: String
    public var metricsHost: String = "127.0.0.1"
    public var metricsPort: Int = 9780
    public var maxConnections = 1024
    /// A connection with nothing to read for this long is closed.
    public var idleTimeout: TimeAmount = .seconds(60)
    /// A request must arrive completely within this long once it has started.
    public var requestTimeout: TimeAmount = .seconds(10)
    /// How long shutdown waits for connections to finish what they are answering.
    public var shutdownTimeout: TimeAmount = .seconds(10)
    public var limits = HTTPRequestParser.Limits.default
    /// Connections to the metrics/health listener. Probes keep working at the cap: the
    /// longest-idle connection is drained to admit a new one.
    public var maxMetricsConnections = 64
    /// Idle and request timeouts of the metrics listener: short, since it may be reachable from
    /// the pod network and its legitimate clients (kubelet, Prometheus) are quick.
    public var metricsIdleTimeout: TimeAmount = .seconds(10)
    public var metricsRequestTimeout: TimeAmount = .seconds(2)
    /// The event loops of the metrics/health listener (nil: the API's). A loop of its own keeps
    /// a flood of `/metrics` scrapes on the network-reachable port from delaying the API.
    public var metricsGroup: (any EventLoopGroup)?
    /// Reports connection counts and rejections per listener (`.api`, `.metrics`).
    public var connectionObserver: @Sendable (ConnectionListener) -> ConnectionObserver = { _ in .none }

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

/// The sidecar's HTTP listeners: the API on the Unix socket, metrics and health on TCP. The
/// socket file itself (stale files, its mode, removal) and when to stop are the app's.
public struct SluiceServer: Sendable {
    let settings: ServerSettings
    let group: any EventLoopGroup
    let api: APIHandler
    let ops: @Sendable (HTTPRequest, ByteBufferAllocator) -> HTTPResponse
    let logger: Logger

    /// - Parameter ops: answers the TCP listener (`/metrics`, `/healthz`, `/readyz`).
    public init(
        settings: ServerSettings, group: any EventLoopGroup, api: APIHandler,
        ops: @escaping @Sendable (HTTPRequest, ByteBufferAllocator) -> HTTPResponse, logger: Logger
    ) {
        self.settings = settings
        self.group = group
        self.api = api
        self.ops = ops
        self.logger = logger
    }

    /// Both listeners, accepting connections until `stop`.
    public struct Running: Sendable {
        /// The TCP listener's port (the one the kernel picked when the settings asked for 0).
        public let metricsPort: Int
        let apiChannel: any Channel
        let opsChannel: any Channel
        let apiConnections: ConnectionRegistry
        let opsConnections: ConnectionRegistry
        let shutdownTimeout: TimeAmount
        let logger: Logger

        /// Stops accepting, lets the API's connections finish what they are answering (closing
        /// those still open after the shutdown timeout), and closes the metrics connections.
        public func stop() async {
            logger.info("shutting down: no new connections; finishing requests in flight")
            // Quiesce before closing the listener: a request that arrives once new connections
            // are refused must already get `Connection: close`.
            await apiConnections.quiesceAll()
            try? await apiChannel.close()
            try? await opsChannel.close()
            opsConnections.closeAll()
            if await !apiConnections.allClosed(within: shutdownTimeout) {
                logger.warning("closing connections still open after the shutdown timeout", metadata: ["open": "\(apiConnections.openCount)"])
                apiConnections.closeAll()
            }
            logger.info("sluice stopped")
        }
    }

    /// Binds the API's socket (creating its file) and the TCP listener.
    public func start() async throws -> Running {
        let path = settings.socketPath
        let apiConnections = ConnectionRegistry(maxConnections: settings.maxConnections, observer: settings.connectionObserver(.api))
        let opsConnections = ConnectionRegistry(
            maxConnections: settings.maxMetricsConnections, observer: settings.connectionObserver(.metrics))
        let apiChannel = try await bootstrap(
            registry: apiConnections, tcp: false, idle: settings.idleTimeout, requestTimeout: settings.requestTimeout, responder: api.answer
        ).bind(unixDomainSocketPath: path).get()
        let opsChannel: any Channel
        do {
            let ops = self.ops
            opsChannel = try await bootstrap(
                on: settings.metricsGroup ?? group, registry: opsConnections, tcp: true, idle: settings.metricsIdleTimeout,
                requestTimeout: settings.metricsRequestTimeout
            ) { request, allocator, _ in
                .now(ops(request, allocator))
            }
                .bind(host: settings.metricsHost, port: settings.metricsPort).get()
        } catch {
            try? await apiChannel.close()
            throw error
        }
        logger.info("sluice listening", metadata: [
            "socket": "\(path)", "metrics": "\(opsChannel.localAddress.map { "\($0)" } ?? "?")",
        ])
        return Running(
            metricsPort: opsChannel.localAddress?.port ?? settings.metricsPort, apiChannel: apiChannel, opsChannel: opsChannel,
            apiConnections: apiConnections, opsConnections: opsConnections, shutdownTimeout: settings.shutdownTimeout, logger: logger)
    }

    private func bootstrap(
        on group: (any EventLoopGroup)? = nil, registry: ConnectionRegistry, tcp: Bool, idle: TimeAmount, requestTimeout: TimeAmount,
        responder: @escaping HTTPAnswerer
    ) -> ServerBootstrap {
        let limits = settings.limits
        var bootstrap = ServerBootstrap(group: group ?? self.group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(
                .writeBufferWaterMark,
                value: .init(low: HTTPConnectionHandler.maxPendingOutput / 4, high: HTTPConnectionHandler.maxPendingOutput))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(HTTPConnectionHandler(
                        responder: responder, registry: registry, limits: limits, requestTimeout: requestTimeout,
                        idleTimeout: idle))
                }
            }
        if tcp { bootstrap = bootstrap.childChannelOption(.socketOption(.tcp_nodelay), value: 1) }
        return bootstrap
    }
}
