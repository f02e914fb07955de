public import NIOCore
import Synchronization

/// Answers one HTTP request synchronously (on the connection's event loop).
public typealias HTTPResponder = @Sendable (HTTPRequest, ByteBufferAllocator) -> HTTPResponse

/// An answer now (decided on the event loop), or later (a backend such as Redis decides).
public enum HTTPAnswer: Sendable {
    case now(HTTPResponse)
    /// Must complete on the connection's event loop.
    case later(EventLoopFuture<HTTPResponse>)
}

/// Answers one HTTP request, now or later; gets the connection's event loop.
public typealias HTTPAnswerer = @Sendable (HTTPRequest, ByteBufferAllocator, any EventLoop) -> HTTPAnswer

/// A lean HTTP/1.1 connection: parses with `HTTPRequestParser`, answers in order (pipelining;
/// an answer decided later holds back the ones after it, and so does a `100 Continue`), writes
/// all answers of one read in a single flush. Closes on protocol errors, on idle, when
/// a request takes longer than `requestTimeout` to arrive, and when asked to quiesce.
///
/// Backpressure: once `maxPendingOutput` bytes of answers wait for a client that does not read,
/// the connection stops parsing and reading until the socket drains (red team 2, F6).
final class HTTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long an idle connection stays open after shutdown begins.
    static let quiesceGrace: TimeAmount = .milliseconds(100)
    /// Answers waiting for the client beyond this stop the reading (the channel's high water
    /// mark is the same).
    static let maxPendingOutput = 256 * 1024

    private let responder: HTTPAnswerer
    private let registry: ConnectionRegistry
    private let requestTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var lastRead = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?
    private var parser: HTTPRequestParser
    private var input: ByteBuffer?
    private var output: ByteBuffer?
    private var closeAfterFlush = false
    private var quiescing = false
    private var requestDeadline: Scheduled<Void>?
    private var slot: ConnectionSlot?
    /// Reading is paused until the client reads what it was sent.
    private var paused = false
    /// Answers not yet written, oldest first, once one of them is decided later.
    private var queued = CircularBuffer<QueuedAnswer>()
    /// Sequence number of `queued.first`.
    private var queuedHead: UInt64 = 0

    struct QueuedAnswer {
        var response: HTTPResponse?
        var keepAlive: Bool
        var headOnly: Bool
    }

    init(
        responder: @escaping HTTPAnswerer, registry: ConnectionRegistry, limits: HTTPRequestParser.Limits,
        requestTimeout: TimeAmount, idleTimeout: TimeAmount
    ) {
        self.responder = responder
        self.registry = registry
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.parser = HTTPRequestParser(limits: limits)
    }

    func channelActive(context: ChannelHandlerContext) {
        slot = registry.admit(context.channel)
        if slot == nil {
            context.close(promise: nil)
            return
        }
        scheduleIdleCheck(context: context, after: idleTimeout)
        context.fireChannelActive()
    }

    /// One timer per idle period (not per read): closes the connection once nothing has been
    /// read for `idleTimeout` and no request is half-way in.
    private func scheduleIdleCheck(context: ChannelHandlerContext, after delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            let quiet = NIODeadline.now() - handler.lastRead
            if quiet >= handler.idleTimeout, handler.requestDeadline == nil, handler.queued.isEmpty {
                context.close(promise: nil)
            } else {
                handler.scheduleIdleCheck(context: context, after: max(handler.idleTimeout - quiet, .milliseconds(1)))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        requestDeadline?.cancel()
        if slot != nil { registry.remove(context.channel) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closeAfterFlush else { return }  // after a closing answer, ignore the rest
        lastRead = NIODeadline.now()
        slot?.touch(lastRead)
        var incoming = unwrapInboundIn(data)
        if input == nil || input?.readableBytes == 0 {
            input = incoming
        } else {
            input?.writeBuffer(&incoming)
        }
        process(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if paused, context.channel.isWritable {
            paused = false
            process(context: context)
            flush(context: context, fireReadComplete: false)
            if !paused { context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in } }
        }
        context.fireChannelWritabilityChanged()
    }

    /// True (and reading stops) while the client leaves too many answers unread.
    private func mustPause(context: ChannelHandlerContext) -> Bool {
        if paused { return true }
        if let out = output, out.readableBytes >= Self.maxPendingOutput { flush(context: context, fireReadComplete: false) }
        guard !context.channel.isWritable else { return false }
        paused = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        return true
    }

    private func process(context: ChannelHandlerContext) {
        guard var buffer = input else { return }
        input = nil  // keep the buffer uniquely referenced while parsing
        defer {
            if buffer.readableBytes == 0 {
                buffer.clear()
            } else if buffer.readerIndex > 4096 {
                buffer.discardReadBytes()
            }
            input = buffer
            // Paused with answers unread: the idle timeout applies, not the request timeout.
            armDeadline(context: context, partial: buffer.readableBytes > 0 && !paused)
        }
        while !closeAfterFlush, !mustPause(context: context) {
            let request: HTTPRequest?
            do {
                request = try parser.next(&buffer)
            } catch {
                var response = HTTPResponse(status: error.status, headers: context.channel.allocator.buffer(capacity: 0), body: context.channel.allocator.buffer(capacity: 96))
                response.body.writeError(error.message)
                emit(response, keepAlive: false, headOnly: false, context: context)
                return
            }
            guard let request else {
                sendContinueIfDue(context: context)
                return
            }
            let keepAlive = request.keepAlive && !quiescing
            let headOnly = request.method == .head
            switch responder(request, context.channel.allocator, context.eventLoop) {
            case .now(let response):
                emit(response, keepAlive: keepAlive, headOnly: headOnly, context: context)
            case .later(let future):
                let sequence = queuedHead + UInt64(queued.count)
                queued.append(QueuedAnswer(response: nil, keepAlive: keepAlive, headOnly: headOnly))
                slot?.setAnswering(true)
                if !keepAlive { closeAfterFlush = true }
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                future.whenComplete { result in
                    let (handler, context) = loopBound.value
                    handler.decided(sequence, result, context: context)
                }
            }
        }
    }

    /// Writes `response` now, or queues it behind answers still being decided.
    private func emit(_ response: HTTPResponse, keepAlive: Bool, headOnly: Bool, context: ChannelHandlerContext) {
        if queued.isEmpty {
            respond(response, keepAlive: keepAlive, headOnly: headOnly, context: context)
        } else {
            queued.append(QueuedAnswer(response: response, keepAlive: keepAlive, headOnly: headOnly))
            if !keepAlive || response.close { closeAfterFlush = true }
        }
    }

    /// A later answer arrived: write every answer at the head of the queue that is ready.
    private func decided(_ sequence: UInt64, _ result: Result<HTTPResponse, any Error>, context: ChannelHandlerContext) {
        let index = Int(sequence &- queuedHead)
        guard index >= 0, index < queued.count else { return }  // the connection was reset meanwhile
        switch result {
        case .success(let response):
            queued[queued.index(queued.startIndex, offsetBy: index)].response = response
        case .failure:
            var response = HTTPResponse(status: .internalError, headers: context.channel.allocator.buffer(capacity: 0), body: context.channel.allocator.buffer(capacity: 64))
            response.body.writeError("internal error")
            queued[queued.index(queued.startIndex, offsetBy: index)].response = response
        }
        let closing = closeAfterFlush
        closeAfterFlush = false
        while let head = queued.first, let response = head.response {
            queued.removeFirst()
            queuedHead &+= 1
            respond(response, keepAlive: head.keepAlive, headOnly: head.headOnly, context: context)
        }
        if closing { closeAfterFlush = true }
        if queued.isEmpty {
            slot?.setAnswering(false)
            sendContinueIfDue(context: context)
        }
        flush(context: context, fireReadComplete: false)
    }

    /// A `100 Continue` goes out only once every earlier answer has (red team 2, F15).
    private func sendContinueIfDue(context: ChannelHandlerContext) {
        guard parser.continueOwed, queued.isEmpty, !closeAfterFlush else { return }
        appendOutput("HTTP/1.1 100 Continue\r\n\r\n", context: context)
        parser.continueSent()
    }

    private func respond(_ response: HTTPResponse, keepAlive: Bool, headOnly: Bool, context: ChannelHandlerContext) {
        if output == nil { output = context.channel.allocator.buffer(capacity: 512) }
        response.write(to: &output!, keepAlive: keepAlive, headOnly: headOnly)  // set just above
        if !keepAlive || response.close { closeAfterFlush = true }
    }

    private func appendOutput(_ text: StaticString, context: ChannelHandlerContext) {
        if output == nil { output = context.channel.allocator.buffer(capacity: 512) }
        output?.writeStaticString(text)
        flush(context: context)
    }

    private func flush(context: ChannelHandlerContext, fireReadComplete: Bool = true) {
        if let out = output, out.readableBytes > 0 {
            output = nil
            if closeAfterFlush, queued.isEmpty {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in bound.value.close(promise: nil) }
            } else {
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        } else if closeAfterFlush, queued.isEmpty {
            context.close(promise: nil)
        }
        if fireReadComplete { context.fireChannelReadComplete() }
    }

    /// A request that has started must finish arriving within `requestTimeout` (slow clients).
    private func armDeadline(context: ChannelHandlerContext, partial: Bool) {
        if !partial {
            requestDeadline?.cancel()
            requestDeadline = nil
            if quiescing, !closeAfterFlush { closeAfterFlush = true }
            return
        }
        guard requestDeadline == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        requestDeadline = context.eventLoop.scheduleTask(in: requestTimeout) {
            let (handler, context) = loopBound.value
            handler.requestTimedOut(context: context)
        }
    }

    private func requestTimedOut(context: ChannelHandlerContext) {
        var response = HTTPResponse(status: .requestTimeout, headers: context.channel.allocator.buffer(capacity: 0), body: context.channel.allocator.buffer(capacity: 64))
        response.body.writeError("the request did not arrive in time")
        closeAfterFlush = false
        emit(response, keepAlive: false, headOnly: false, context: context)
        flush(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            // One mid-request closes after its answer. An idle one gets a short grace period, so
            // a request already on its way (in the socket buffer, not yet read) is still answered.
            if requestDeadline == nil, output == nil, queued.isEmpty {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: Self.quiesceGrace) {
                    let (handler, context) = loopBound.value
                    if handler.requestDeadline == nil, handler.queued.isEmpty, !handler.closeAfterFlush { context.close(promise: nil) }
                }
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
