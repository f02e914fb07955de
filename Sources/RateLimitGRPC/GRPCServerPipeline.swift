public import NIOCore
import NIOHTTP2

/// How a gRPC connection is served, and the handlers that do it.
public struct GRPCServerPipeline: Sendable {
    /// Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS); NIOHTTP2
    /// refuses more.
    public var maxConcurrentStreams = 100
    /// A connection without open streams for this long is closed (GOAWAY first); nil: never.
    public var idleTimeout: TimeAmount?
    /// After GOAWAY, how long calls in flight may take before the connection is closed.
    public var shutdownGrace: TimeAmount = .seconds(10)
    public var calls = GRPCConnectionStateMachine.Configuration()
    /// NIOHTTP2's checks of every header block in and out (names lowercase and legal, pseudo-
    /// headers in place). Off by default: they cost about a tenth of a call's server CPU, the
    /// answers' headers are constants, and of a request Sluice reads only `:path`,
    /// `content-type`, `:method`, `grpc-encoding` and `grpc-timeout`, each checked itself.
    public var validateHeaderBlocks = false
    /// NIOHTTP2's check of DATA against a `content-length` header, which gRPC requests do not
    /// send: each message carries its own length, and a request whose DATA ends inside or past
    /// that length is refused anyway. Off by default: it costs about 1 % of a call's server CPU.
    public var validateContentLength = false

    public init() {}

    /// Adds the HTTP/2 and gRPC handlers to a new connection's pipeline, on its event loop.
    public func configure(_ channel: any Channel, service: GRPCService) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: calls.windowSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 16 * 1024),
        ]
        connection.targetWindowSize = calls.windowSize
        connection.headerBlockValidation = validateHeaderBlocks ? .enabled : .disabled
        connection.contentLengthValidation = validateContentLength ? .enabled : .disabled
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOHTTP2Handler(mode: .server, connectionConfiguration: connection))
        try sync.addHandler(GRPCConnectionHandler(
            service: service, configuration: calls, idleTimeout: idleTimeout, shutdownGrace: shutdownGrace))
    }
}
