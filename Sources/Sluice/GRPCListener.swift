import GRPCCore
import GRPCNIOTransportHTTP2Posix
import Logging
import NIOCore
import NIOPosix
import RateLimitCore
import RateLimitGRPC
import RateLimitHTTP
import RateLimitMetrics
import RateLimitRedis
import ServiceLifecycle

/// The gRPC listener on its own Unix socket (`--grpc-socket`): Sluice's `sluice.v1.RateLimiter`
/// and Envoy's RLS v3 on the same limiter and metrics as the HTTP API. Never on TCP: these
/// calls change state. Bounded like the API socket: a connection cap (draining the connection
/// quiet for longest), and an idle timeout (red team 2, F2).
struct GRPCListener: Service {
    let path: String
    let mode: UInt32
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let logger: Logger

    init(
        path: String, mode: UInt32, group: MultiThreadedEventLoopGroup, limiter: RateLimiter,
        remote: (any AsyncRemoteDecider)?, metrics: SluiceMetrics, connections: ConnectionRegistry, idleTimeout: TimeAmount,
        logger: Logger
    ) {
        self.path = path
        self.mode = mode
        self.logger = logger
        let durations = GRPCEndpoint.allCases.map { metrics.duration(endpoint: $0.rawValue) }
        let unmatched = UnmatchedDescriptor.allCases.map { metrics.envoyUnmatched(reason: $0.rawValue) }
        let observers = GRPCObservers(
            duration: { endpoint, ns in
                durations[GRPCEndpoint.allCases.firstIndex(of: endpoint) ?? 0].recordNanoseconds(ns)
            },
            unmatched: { reason in unmatched[UnmatchedDescriptor.allCases.firstIndex(of: reason) ?? 0].increment() })
        var config = HTTP2ServerTransport.Posix.Config.defaults
        config.connection.maxIdleTime = .nanoseconds(idleTimeout.nanoseconds)
        config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ConnectionAdmissionHandler(registry: connections), position: .first)
            }
        }
        let transport = HTTP2ServerTransport.Posix(
            address: .unixDomainSocket(path: path), transportSecurity: .plaintext, config: config, eventLoopGroup: group)
        server = GRPCServer(transport: transport, services: [
            SluiceGRPCService(limiter: limiter, remote: remote, observers: observers),
            EnvoyRateLimitService(limiter: limiter, remote: remote, observers: observers),
        ])
    }

    func run() async throws {
        try UnixSocketPath.prepare(path)
        defer { UnixSocketPath.remove(path) }
        let server = self.server
        try await withThrowingDiscardingTaskGroup { group in
            // Bound under a private umask, then given its mode (red team 2, F21).
            let listening = try await UnixSocketPath.bindingPrivately {
                group.addTask { try await server.serve() }
                return try await server.listeningAddress
            }
            guard listening != nil else { return }
            try UnixSocketPath.setMode(path, mode)
            logger.info("grpc listening", metadata: ["grpc_socket": "\(path)"])
            try await gracefulShutdown()
            server.beginGracefulShutdown()
        }
    }
}

/// The Redis store as the gRPC services' remote backend.
struct RedisGRPCDecider: AsyncRemoteDecider {
    let store: RedisStore
    let group: any EventLoopGroup

    func decide(_ checks: [PreparedCheck], commit: Bool) async throws -> BatchDecision {
        try await store.decide(checks, commit: commit, on: group.next()).get()
    }
}
