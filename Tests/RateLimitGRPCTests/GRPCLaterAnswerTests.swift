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
    final class HeldBackend: RemoteStore {
        typealias Done = @Sendable (Result<BatchDecision, BackendUnavailable>) -> Void
        let held = Mutex<[Done]>([])
        func decide(_ checks: [PreparedCheck], commit: Bool, affinity: ObjectIdentifier?, done: @escaping Done) {
            held.withLock { $0.append(done) }
        }
        func reset(_ check: PreparedCheck, affinity: ObjectIdentifier?, done: @escaping @Sendable (Result<Void, BackendUnavailable>) -> Void) {
            done(.success(()))
        }
    }

    /// Counts the pipeline's shed calls.
    final class ShedCounter: PipelineObserver {
        let count = Atomic<Int>(0)
        func inflight(_ count: Int) {}
        func shed() { count.wrappingAdd(1, ordering: .relaxed) }
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
        let counter = ShedCounter()
        let service = GRPCService(pipeline: DecisionPipeline(
            limiter: try Self.limiter(), remote: HeldBackend(), maxInflight: 1, observer: counter))
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
        #expect(counter.count.load(ordering: .relaxed) == 1)
    }

    @Test func anAnswerLaterThanGRPCTimeoutIsDeadlineExceeded() throws {
        let backend = HeldBackend()
        let service = GRPCService(pipeline: DecisionPipeline(limiter: try Self.limiter(), remote: backend))
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
        backend.held.withLock { $0.first?(.success(BatchDecision(allowed: true, decisions: []))) }
        #expect(try channel.readOutbound(as: HTTP2Frame.self) == nil)
        message.clear()
        _ = try channel.finish()
    }
}
