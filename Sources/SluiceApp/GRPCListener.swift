import Logging
import NIOCore
import NIOPosix
import RateLimitCore
import RateLimitGRPC
import RateLimitHTTP
import ServiceLifecycle

/// The gRPC listener on its own Unix socket (`--grpc-socket`): Sluice's `sluice.v1.RateLimiter`
/// and Envoy's RLS v3 on the same limiter and metrics as the HTTP API, served directly on
/// NIOHTTP2 (docs/grpc.md). Never on TCP: these calls change state. Bounded like the API
/// socket: a connection cap (draining the connection quiet for longest), the idle timeout, and
/// the pipeline's `--max-inflight` for calls a remote backend answers (red team 2, F2).
struct GRPCListener: Service {
    let path: String
    let mode: UInt32
    let group: any EventLoopGroup
    let service: GRPCService
    let connections: ConnectionRegistry
    let pipeline: GRPCServerPipeline
    let logger: Logger
    let listening: @Sendable () -> Void

    init(
        path: String, mode: UInt32, group: any EventLoopGroup, pipeline: DecisionPipeline, observer: any GRPCObserver,
        connections: ConnectionRegistry, idleTimeout: TimeAmount, logger: Logger, listening: @escaping @Sendable () -> Void = {}
    ) {
        self.path = path
        self.mode = mode
        self.group = group
        self.connections = connections
        self.logger = logger
        self.listening = listening
        service = GRPCService(pipeline: pipeline, observer: observer)
        var pipeline = GRPCServerPipeline()
        pipeline.idleTimeout = idleTimeout
        self.pipeline = pipeline
    }

    func run() async throws {
        try UnixSocketPath.prepare(path)
        defer { UnixSocketPath.remove(path) }
        let (service, pipeline, connections) = (self.service, self.pipeline, self.connections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionAdmissionHandler(registry: connections))
                    try pipeline.configure(channel, service: service)
                }
            }
        // Bound under a private umask, then given its mode (red team 2, F21).
        let listener = try await UnixSocketPath.bindingPrivately {
            try await bootstrap.bind(unixDomainSocketPath: path).get()
        }
        do {
            try UnixSocketPath.setMode(path, mode)
        } catch {
            try? await listener.close()
            throw error
        }
        logger.info("grpc listening", metadata: ["grpc_socket": "\(path)"])
        listening()
        try? await gracefulShutdown()

        // Stop accepting, then GOAWAY on every connection: calls in flight finish, each
        // connection closes once it has no open stream (or after the grace period).
        try? await listener.close()
        await connections.quiesceAll()
        if await !connections.allClosed(within: pipeline.shutdownGrace) { connections.closeAll() }
    }
}
