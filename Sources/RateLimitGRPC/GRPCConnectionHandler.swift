import NIOCore
import NIOHPACK
import NIOHTTP2

/// Serves Sluice's unary gRPC methods on one HTTP/2 connection, straight from NIOHTTP2's frames
/// (no child channel, task or async hop per call): `GRPCConnectionStateMachine` gathers each
/// request, `GRPCService` answers it now (memory) or later (Redis), and the answer goes out as
/// HEADERS, DATA and trailers, flushed once per read burst.
///
/// It also closes the connection when idle, and on `ChannelShouldQuiesceEvent` sends GOAWAY and
/// closes once the calls in flight are answered (or after `shutdownGrace`); the machine decides
/// when, this class keeps the timers and the flushes. NIOHTTP2's
/// `NIOHTTP2ServerConnectionManagementHandler` does the same but costs a handler hop and three
/// dynamic casts per HTTP/2 event, a tenth of a call's server CPU here.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    static let responseHeaders: HPACKHeaders = [":status": "200", "content-type": "application/grpc"]
    static let okTrailers: HPACKHeaders = ["grpc-status": "0"]

    private let service: GRPCService
    private var machine: GRPCConnectionStateMachine
    private var inReadLoop = false
    private var flushPending = false
    private var idleCheck: Scheduled<Void>?

    init(
        service: GRPCService, configuration: GRPCConnectionStateMachine.Configuration, idleTimeout: TimeAmount? = nil,
        shutdownGrace: TimeAmount = .seconds(10)
    ) {
        self.service = service
        self.machine = GRPCConnectionStateMachine(configuration: configuration, idleTimeout: idleTimeout, shutdownGrace: shutdownGrace)
    }

    func channelActive(context: ChannelHandlerContext) {
        if let delay = machine.channelActive(now: .now()) { scheduleIdleCheck(context: context, after: delay) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadLoop = true
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .headers(let headers):
            let action = machine.receiveHeaders(frame.streamID, headers.headers, endStream: headers.endStream, now: .now())
            perform(action, context: context)
        case .data(let payload):
            guard case .byteBuffer(let bytes) = payload.data else { return }  // file regions are outbound only
            perform(machine.receiveData(frame.streamID, bytes, endStream: payload.endStream), context: context)
        default:
            break  // NIOHTTP2Handler answers PING and SETTINGS; RST_STREAM arrives as StreamClosedEvent
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadLoop = false
        if machine.idleTimeout != nil { machine.readComplete(now: .now()) }
        if flushPending {
            flushPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    /// NIOHTTP2 sends about seven events per call (stream created and closed, window changes).
    /// They are told apart by metatype, not by failed dynamic casts, and end here: this is the
    /// last handler, and nothing after it reads them.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        let eventType = type(of: event)
        if eventType == NIOHTTP2WindowUpdatedEvent.self, let window = event as? NIOHTTP2WindowUpdatedEvent {
            if let inbound = window.inboundWindowSize, let increment = machine.windowUpdated(window.streamID, inboundWindow: inbound) {
                write(window.streamID, .windowUpdate(windowSizeIncrement: increment), context: context)
                if !inReadLoop { context.flush() }
            }
        } else if eventType == StreamClosedEvent.self, let closed = event as? StreamClosedEvent {
            perform(machine.streamClosed(closed.streamID), context: context)
        } else if eventType != NIOHTTP2StreamCreatedEvent.self {
            if event is ChannelShouldQuiesceEvent { perform(machine.quiesce(), context: context) }
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func perform(_ action: GRPCConnectionStateMachine.ConnectionAction, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .checkIdleAgain(let delay):
            scheduleIdleCheck(context: context, after: delay)
        case .goAwayAndClose(let lastStreamID):
            write(.rootStream, .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil), context: context)
            flushAndClose(context: context)
        case .goAway(let lastStreamID, let grace):
            // No new calls; the open ones may finish within the grace period.
            write(.rootStream, .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil), context: context)
            flushPending = false
            context.flush()
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: grace) { loopBound.value.close(promise: nil) }
        case .close:
            flushAndClose(context: context)
        }
    }

    /// Closing drops writes not yet flushed, and NIOHTTP2Handler holds back flushes until its
    /// read burst ends: the close waits for the event loop's next turn, after that flush.
    private func flushAndClose(context: ChannelHandlerContext) {
        flushPending = false
        context.flush()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute { loopBound.value.close(promise: nil) }
    }

    /// One timer per idle period, not per read: an idle connection (no open call, nothing read
    /// for `idleTimeout`) is sent GOAWAY and closed.
    private func scheduleIdleCheck(context: ChannelHandlerContext, after delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.perform(handler.machine.idleCheck(now: .now()), context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Stream errors are NIOHTTP2's to answer (RST_STREAM); connection errors close the
        // connection there (GOAWAY). Nothing is left to do here.
    }

    private func perform(_ action: GRPCConnectionStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .refuse(let streamID, let rejection, let resetStream):
            switch rejection {
            case .unsupportedMediaType(let message):
                let status = GRPCStatus(.invalidArgument, message)
                write(streamID, .headers(.init(headers: [":status": "415", "grpc-status": "3", "grpc-message": status.encodedMessage], endStream: true)), context: context)
            case .status(let status):
                writeTrailersOnly(streamID, status, context: context)
            }
            if resetStream { write(streamID, .rstStream(.noError), context: context) }
        case .dispatch(let streamID, let head, let message):
            if let deadline = head.deadline, deadline <= .now() {
                writeTrailersOnly(streamID, GRPCStatus(.deadlineExceeded, "the deadline passed before the call was answered"), context: context)
                return
            }
            switch service.answer(head.method, message, on: context.eventLoop) {
            case .now(let reply):
                write(reply, streamID, context: context)
            case .later(let future):
                answerLater(streamID, future, deadline: head.deadline, context: context)
            }
        }
    }

    /// Writes the answer when it comes, unless the stream closed or its deadline passed first.
    private func answerLater(_ streamID: HTTP2StreamID, _ future: EventLoopFuture<GRPCReply>, deadline: NIODeadline?, context: ChannelHandlerContext) {
        machine.answerLater(streamID)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let timer = deadline.map { deadline in
            context.eventLoop.scheduleTask(deadline: deadline) {
                let (handler, context) = loopBound.value
                handler.finish(streamID, .failure(GRPCStatus(.deadlineExceeded, "the deadline passed before the call was answered")), context: context)
            }
        }
        future.whenComplete { result in
            timer?.cancel()
            let (handler, context) = loopBound.value
            switch result {
            case .success(let reply): handler.finish(streamID, reply, context: context)
            case .failure(let error): handler.finish(streamID, .failure(GRPCStatus(.internalError, "\(error)")), context: context)
            }
        }
    }

    private func finish(_ streamID: HTTP2StreamID, _ reply: GRPCReply, context: ChannelHandlerContext) {
        guard machine.finish(streamID) else { return }
        write(reply, streamID, context: context)
        if !inReadLoop {
            flushPending = false
            context.flush()
        }
    }

    private func write(_ reply: GRPCReply, _ streamID: HTTP2StreamID, context: ChannelHandlerContext) {
        switch reply {
        case .message(let message):
            write(streamID, .headers(.init(headers: Self.responseHeaders)), context: context)
            write(streamID, .data(.init(data: .byteBuffer(message))), context: context)
            write(streamID, .headers(.init(headers: Self.okTrailers, endStream: true)), context: context)
        case .failure(let status):
            writeTrailersOnly(streamID, status, context: context)
        }
    }

    /// A call that ends without a message: one HEADERS frame with the status.
    private func writeTrailersOnly(_ streamID: HTTP2StreamID, _ status: GRPCStatus, context: ChannelHandlerContext) {
        var headers = Self.responseHeaders
        headers.add(name: "grpc-status", value: String(status.code.rawValue))
        headers.add(name: "grpc-message", value: status.encodedMessage)
        headers.add(name: "grpc-accept-encoding", value: "identity")
        write(streamID, .headers(.init(headers: headers, endStream: true)), context: context)
    }

    private func write(_ streamID: HTTP2StreamID, _ payload: HTTP2Frame.FramePayload, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(HTTP2Frame(streamID: streamID, payload: payload)), promise: nil)
        flushPending = true
    }
}
