import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import RateLimitConfig
import RateLimitCore
@testable import RateLimitGRPC
import Synchronization
import Testing

/// The path a remote backend (Redis) answers: `--max-inflight` shedding and `grpc-timeout`,
/// on an embedded channel with a backend that answers only when told.
@Suite struct GRPCLaterAnswerTests {
    /// Holds every decision until the test completes it.
    final class HeldBackend: GRPCRemoteDecider {
        let promises = Mutex<[EventLoopPromise<BatchDecision>]>([])
        func decide(_ checks: [PreparedCheck], commit: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<BatchDecision> {
            let promise = eventLoop.makePromise(of: BatchDecision.self)
            promises.withLock { $0.append(promise) }
            return promise.futureResult
        }
    }

    static func limiter() throws -> RateLimiter {
        RateLimiter(rules: try ConfigLoader.parse(yaml: grpcRulesYAML).rules, clock: ManualClock(now: .seconds(1_000_000)))
    }

    static func framedCheck() throws -> ByteBuffer {
        var buffer = try checkRequest("per-ip", "10.9.9.9").grpcFramed()
        buffer.moveReaderIndex(forwardBy: 5)
        return buffer
    }

    @Test func callsBeyondMaxInflightAreShedAsUnavailable() throws {
        let shed = Atomic<Int>(0)
        let service = GRPCService(
            limiter: try Self.limiter(), remote: HeldBackend(),
            observers: GRPCObservers(shed: { shed.wrappingAdd(1, ordering: .relaxed) }), maxInflight: 1)
        let loop = EmbeddedEventLoop()
        guard case .later = service.answer(.checkLimit, try Self.framedCheck(), on: loop) else {
            Issue.record("the first call waits for the backend")
            return
        }
        guard case .now(.failure(let status)) = service.answer(.checkLimit, try Self.framedCheck(), on: loop) else {
            Issue.record("the second call is shed")
            return
        }
        #expect(status.code == .unavailable && status.message.contains("cap 1"))
        #expect(shed.load(ordering: .relaxed) == 1)
    }

    @Test func anAnswerLaterThanGRPCTimeoutIsDeadlineExceeded() throws {
        let backend = HeldBackend()
        let service = GRPCService(limiter: try Self.limiter(), remote: backend)
        let channel = EmbeddedChannel(handler: GRPCConnectionHandler(service: service, configuration: .init()))
        let stream = HTTP2StreamID(1)
        let headers: HPACKHeaders = [
            ":method": "POST", ":path": "/sluice.v1.RateLimiter/CheckLimit", "content-type": "application/grpc",
            "grpc-timeout": "10m",
        ]
        try channel.writeInbound(HTTP2Frame(streamID: stream, payload: .headers(.init(headers: headers))))
        var message = try checkRequest("per-ip", "10.9.9.9").grpcFramed()
        try channel.writeInbound(HTTP2Frame(streamID: stream, payload: .data(.init(data: .byteBuffer(message), endStream: true))))
        #expect(try channel.readOutbound(as: HTTP2Frame.self) == nil)  // waiting for the backend

        channel.embeddedEventLoop.advanceTime(to: .now() + .milliseconds(20))
        guard case .headers(let trailers) = try channel.readOutbound(as: HTTP2Frame.self)?.payload else {
            Issue.record("no trailers-only answer at the deadline")
            return
        }
        #expect(trailers.endStream && trailers.headers.first(name: "grpc-status") == "4")

        // The backend's answer after the deadline is dropped.
        backend.promises.withLock { $0.first?.succeed(BatchDecision(allowed: true, decisions: [])) }
        #expect(try channel.readOutbound(as: HTTP2Frame.self) == nil)
        message.clear()
        _ = try channel.finish()
    }
}
