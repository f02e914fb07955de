import NIOCore
import NIOHPACK
import NIOHTTP2
@testable import RateLimitGRPC
import Testing

/// Events in, actions out: one test per transition of `GRPCConnectionStateMachine`.
@Suite struct GRPCConnectionStateMachineTests {
    typealias Machine = GRPCConnectionStateMachine
    let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let stream = HTTP2StreamID(1)

    func headers(path: String = "/sluice.v1.RateLimiter/CheckLimit", contentType: String = "application/grpc",
                 _ extra: [(String, String)] = []) -> HPACKHeaders {
        var headers: HPACKHeaders = [":method": "POST", ":scheme": "http", ":path": path, "content-type": contentType, "te": "trailers"]
        for (name, value) in extra { headers.add(name: name, value: value) }
        return headers
    }

    /// A length-prefixed message with `flag`, from `body`.
    func framed(_ body: [UInt8], flag: UInt8 = 0, length: UInt32? = nil) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(flag)
        buffer.writeInteger(length ?? UInt32(body.count))
        buffer.writeBytes(body)
        return buffer
    }

    func status(_ action: Machine.Action) -> GRPCStatus? {
        guard case .refuse(_, .status(let status), _) = action else { return nil }
        return status
    }

    @Test func aCompleteRequestIsDispatchedWithItsMessage() {
        var machine = Machine()
        #expect(machine.receiveHeaders(stream, headers([("grpc-timeout", "20m")]), endStream: false, now: now) == .none)
        let action = machine.receiveData(stream, framed([1, 2, 3]), endStream: true)
        let head = GRPCRequestHead(method: .checkLimit, deadline: now + .milliseconds(20))
        #expect(action == .dispatch(stream, head, ByteBuffer(bytes: [1, 2, 3])))
        machine.streamClosed(stream)
        #expect(machine.openStreams == 0)
    }

    @Test func aMessageSplitAcrossFramesIsJoined() {
        var machine = Machine()
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        var whole = framed([9, 8, 7, 6])
        let first = whole.readSlice(length: 3)!
        #expect(machine.receiveData(stream, first, endStream: false) == .none)
        #expect(machine.receiveData(stream, whole, endStream: true)
            == .dispatch(stream, GRPCRequestHead(method: .checkLimit), ByteBuffer(bytes: [9, 8, 7, 6])))
    }

    @Test func emptyTrailersEndTheRequest() {
        var machine = Machine()
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        _ = machine.receiveData(stream, framed([]), endStream: false)
        #expect(machine.receiveHeaders(stream, [:], endStream: true, now: now)
            == .dispatch(stream, GRPCRequestHead(method: .checkLimit), ByteBuffer()))
    }

    @Test func aNonGRPCContentTypeIs415() {
        var machine = Machine()
        let action = machine.receiveHeaders(stream, headers(contentType: "application/json"), endStream: false, now: now)
        guard case .refuse(_, .unsupportedMediaType, let reset) = action else { Issue.record("\(action)"); return }
        #expect(reset)  // the client is still sending
        #expect(machine.receiveData(stream, framed([1]), endStream: true) == .none)
    }

    @Test func contentTypeVariants() {
        #expect(GRPCRequestHead.isGRPC(contentType: "application/grpc"))
        #expect(GRPCRequestHead.isGRPC(contentType: "application/grpc+proto"))
        #expect(GRPCRequestHead.isGRPC(contentType: "application/grpc;charset=utf-8"))
        #expect(!GRPCRequestHead.isGRPC(contentType: "application/grpcx"))
        #expect(!GRPCRequestHead.isGRPC(contentType: "text/plain"))
    }

    @Test func everyMethodIsFoundByItsPathAndOnlyByIt() {
        #expect(GRPCMethod(path: "/sluice.v1.RateLimiter/CheckLimit") == .checkLimit)
        #expect(GRPCMethod(path: "/sluice.v1.RateLimiter/CheckBatch") == .checkBatch)
        #expect(GRPCMethod(path: "/sluice.v1.RateLimiter/GetStatus") == .getStatus)
        #expect(GRPCMethod(path: "/sluice.v1.RateLimiter/Report") == .report)
        #expect(GRPCMethod(path: "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit") == .shouldRateLimit)
        #expect(Set(GRPCMethod.byPath.map(\.method)) == Set(GRPCMethod.allCases))
        for near in ["/sluice.v1.RateLimiter/CheckLimiT", "/sluice.v1.RateLimiter/CheckLimit/", "", "/"] {
            #expect(GRPCMethod(path: near) == nil, "\(near)")
        }
    }

    @Test func unknownMethodsAreUnimplemented() {
        var machine = Machine()
        let action = machine.receiveHeaders(stream, headers(path: "/sluice.v1.RateLimiter/Nope"), endStream: true, now: now)
        #expect(status(action)?.code == .unimplemented)
        #expect(action == .refuse(stream, .status(GRPCStatus(.unimplemented, "unknown method /sluice.v1.RateLimiter/Nope")), resetStream: false))
    }

    @Test func aCompressionOtherThanIdentityIsUnimplemented() {
        var machine = Machine()
        let action = machine.receiveHeaders(stream, headers([("grpc-encoding", "gzip")]), endStream: false, now: now)
        #expect(status(action)?.code == .unimplemented)
        var identity = Machine()
        #expect(identity.receiveHeaders(stream, headers([("grpc-encoding", "identity")]), endStream: false, now: now) == .none)
    }

    @Test func aCompressedFlagWithoutEncodingIsInternal() {
        var machine = Machine()
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        let action = machine.receiveData(stream, framed([1, 2], flag: 1), endStream: false)
        #expect(status(action) == GRPCStatus(.internalError, "compressed message without a grpc-encoding"))
        guard case .refuse(_, _, let reset) = action else { return }
        #expect(reset)
    }

    @Test func anOversizedMessageIsResourceExhaustedFromItsPrefix() {
        var configuration = Machine.Configuration()
        configuration.maxMessageBytes = 10
        var machine = Machine(configuration: configuration)
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        let action = machine.receiveData(stream, framed([], length: 11), endStream: false)
        #expect(status(action)?.code == .resourceExhausted)
    }

    @Test func twoMessagesOrAnIncompleteOneAreInternal() {
        var machine = Machine()
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        var two = framed([1])
        var second = framed([2])
        two.writeBuffer(&second)
        #expect(status(machine.receiveData(stream, two, endStream: true))?.code == .internalError)

        var cut = Machine()
        _ = cut.receiveHeaders(stream, headers(), endStream: false, now: now)
        let action = cut.receiveData(stream, framed([1, 2], length: 3), endStream: true)
        #expect(status(action) == GRPCStatus(.internalError, "the request ended inside its message"))
    }

    @Test func headersAloneAreAMissingMessage() {
        var machine = Machine()
        let action = machine.receiveHeaders(stream, headers(), endStream: true, now: now)
        #expect(status(action) == GRPCStatus(.internalError, "the request has no message"))
    }

    @Test func badTimeoutsAreInternalAndHugeOnesAreCapped() {
        var machine = Machine()
        #expect(status(machine.receiveHeaders(stream, headers([("grpc-timeout", "1x")]), endStream: false, now: now))?.code == .internalError)
        #expect(GRPCRequestHead.parseTimeout("123456789S") == nil)  // 9 digits
        #expect(GRPCRequestHead.parseTimeout("99999999H") == GRPCRequestHead.maxTimeout)
        #expect(GRPCRequestHead.parseTimeout("5n") == .nanoseconds(5))
    }

    @Test func creditGoesBackOnceHalfTheWindowIsUsed() {
        var configuration = Machine.Configuration()
        configuration.windowSize = 20
        var machine = Machine(configuration: configuration)
        #expect(machine.windowUpdated(.rootStream, inboundWindow: 11) == nil)
        #expect(machine.windowUpdated(.rootStream, inboundWindow: 10) == 10)
        // A stream gets credit only while its message is arriving.
        #expect(machine.windowUpdated(stream, inboundWindow: 0) == nil)
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        #expect(machine.windowUpdated(stream, inboundWindow: 4) == 16)
        _ = machine.receiveData(stream, framed([1]), endStream: true)
        #expect(machine.windowUpdated(stream, inboundWindow: 4) == nil)
    }

    @Test func dataForAStreamThatIsNotReceivingIsIgnored() {
        var machine = Machine()
        #expect(machine.receiveData(HTTP2StreamID(3), framed([1]), endStream: true) == .none)
    }

    // MARK: the connection

    @Test func anIdleConnectionIsSentGoAwayAndClosed() {
        var machine = Machine(idleTimeout: .seconds(30))
        #expect(machine.channelActive(now: now) == .seconds(30))
        #expect(machine.idleCheck(now: now + .seconds(10)) == .checkIdleAgain(in: .seconds(20)))
        machine.readComplete(now: now + .seconds(20))
        #expect(machine.idleCheck(now: now + .seconds(30)) == .checkIdleAgain(in: .seconds(20)))
        // An open call keeps it open.
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        #expect(machine.idleCheck(now: now + .seconds(60)) == .checkIdleAgain(in: .milliseconds(1)))
        #expect(machine.streamClosed(stream) == .none)
        #expect(machine.idleCheck(now: now + .seconds(60)) == .goAwayAndClose(lastStreamID: stream))
        #expect(machine.quiescing)
        #expect(machine.idleCheck(now: now + .seconds(90)) == .none)  // no more checks
    }

    @Test func withoutAnIdleTimeoutThereIsNoIdleCheck() {
        var machine = Machine()
        #expect(machine.channelActive(now: now) == nil)
        #expect(machine.idleCheck(now: now + .seconds(3600)) == .none)
    }

    /// GOAWAY names the last stream the client opened; the connection closes with the last open
    /// call (or after the grace, which the handler's timer enforces).
    @Test func quiesceSendsGoAwayAndClosesWithTheLastCall() {
        var machine = Machine(shutdownGrace: .seconds(5))
        _ = machine.receiveHeaders(HTTP2StreamID(3), headers(), endStream: false, now: now)
        _ = machine.receiveHeaders(stream, headers(), endStream: false, now: now)
        #expect(machine.quiesce() == .goAway(lastStreamID: HTTP2StreamID(3), closeAfter: .seconds(5)))
        #expect(machine.quiesce() == .none)
        #expect(machine.streamClosed(stream) == .none)
        #expect(machine.streamClosed(HTTP2StreamID(3)) == .close)
    }

    @Test func quiesceClosesAConnectionWithoutCallsAtOnce() {
        var machine = Machine()
        #expect(machine.quiesce() == .goAwayAndClose(lastStreamID: .rootStream))
    }

    /// A later answer is written once: not again when its deadline passes, nor after its stream
    /// closed.
    @Test func aLaterAnswerIsWrittenOnce() {
        var machine = Machine()
        machine.answerLater(stream)
        #expect(machine.finish(stream) == true)
        #expect(machine.finish(stream) == false)
        machine.answerLater(HTTP2StreamID(3))
        machine.streamClosed(HTTP2StreamID(3))
        #expect(machine.finish(HTTP2StreamID(3)) == false)
    }

    @Test func grpcMessagesArePercentEncoded() {
        #expect(GRPCStatus(.internalError, "plain text").encodedMessage == "plain text")
        #expect(GRPCStatus(.internalError, "100% ünïcode\n").encodedMessage == "100%25 %C3%BCn%C3%AFcode%0A")
    }
}
