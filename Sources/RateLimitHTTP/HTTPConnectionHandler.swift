public import NIOCore
import Synchronization

/// Answers one HTTP request synchronously (on the connection's event loop).
public typealias HTTPResponder = @Sendable (HTTPRequest, ByteBufferAllocator) -> HTTPResponse

/// Per-server connection accounting: the cap, and the open channels for graceful shutdown.
public final class ConnectionRegistry: Sendable {
    public let maxConnections: Int
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    public init(maxConnections: Int) {
        self.maxConnections = maxConnections
    }

    /// Registers `channel`; false when the cap is reached (the caller closes it).
    func admit(_ channel: any Channel) -> Bool {
        channels.withLock { open in
            guard open.count < maxConnections else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func remove(_ channel: any Channel) {
        _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    public var openCount: Int { channels.withLock { $0.count } }

    /// Asks every connection to finish what it is answering and close.
    public func quiesceAll() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Closes every connection now.
    public func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}

/// A lean HTTP/1.1 connection: parses with `HTTPRequestParser`, answers in order (pipelining),
/// writes all answers of one read in a single flush. Closes on protocol errors, on idle, when
/// a request takes longer than `requestTimeout` to arrive, and when asked to quiesce.
final class HTTPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// How long an idle connection stays open after shutdown begins.
    static let quiesceGrace: TimeAmount = .milliseconds(100)

    private let responder: HTTPResponder
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
    private var admitted = false

    init(
        responder: @escaping HTTPResponder, registry: ConnectionRegistry, limits: HTTPRequestParser.Limits,
        requestTimeout: TimeAmount, idleTimeout: TimeAmount
    ) {
        self.responder = responder
        self.registry = registry
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.parser = HTTPRequestParser(limits: limits)
    }

    func channelActive(context: ChannelHandlerContext) {
        admitted = registry.admit(context.channel)
        if !admitted {
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
            if quiet >= handler.idleTimeout, handler.requestDeadline == nil {
                context.close(promise: nil)
            } else {
                handler.scheduleIdleCheck(context: context, after: max(handler.idleTimeout - quiet, .milliseconds(1)))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        requestDeadline?.cancel()
        if admitted { registry.remove(context.channel) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closeAfterFlush else { return }  // after a closing answer, ignore the rest
        lastRead = NIODeadline.now()
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
            armDeadline(context: context, partial: buffer.readableBytes > 0)
        }
        while !closeAfterFlush {
            let request: HTTPRequest?
            do {
                request = try parser.next(&buffer)
            } catch {
                var response = HTTPResponse(status: error.status, headers: context.channel.allocator.buffer(capacity: 0), body: context.channel.allocator.buffer(capacity: 96))
                response.body.writeError(error.message)
                respond(response, keepAlive: false, headOnly: false, context: context)
                return
            }
            guard let request else {
                if parser.continueOwed {
                    appendOutput("HTTP/1.1 100 Continue\r\n\r\n", context: context)
                    parser.continueSent()
                }
                return
            }
            let response = responder(request, context.channel.allocator)
            respond(response, keepAlive: request.keepAlive && !quiescing, headOnly: request.method == .head, context: context)
        }
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

    private func flush(context: ChannelHandlerContext) {
        if let out = output, out.readableBytes > 0 {
            output = nil
            if closeAfterFlush {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in bound.value.close(promise: nil) }
            } else {
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
            }
        } else if closeAfterFlush {
            context.close(promise: nil)
        }
        context.fireChannelReadComplete()
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
        respond(response, keepAlive: false, headOnly: false, context: context)
        flush(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            // One mid-request closes after its answer. An idle one gets a short grace period, so
            // a request already on its way (in the socket buffer, not yet read) is still answered.
            if requestDeadline == nil, output == nil {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: Self.quiesceGrace) {
                    let (handler, context) = loopBound.value
                    if handler.requestDeadline == nil, !handler.closeAfterFlush { context.close(promise: nil) }
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
