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

/// A lean HTTP/1.1 connection: the NIO adapter of `HTTPConnectionStateMachine`, which decides
/// everything (answer order, closing, timeouts, quiesce, backpressure). This class turns
/// channel events into the machine's events, calls the responder, and performs what the machine
/// returns: writes, closes, timers and pausing the reading.
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
    private var slot: ConnectionSlot?
    private var machine: HTTPConnectionStateMachine
    private var idleTimer: Scheduled<Void>?
    private var requestTimer: Scheduled<Void>?
    private var graceTimer: Scheduled<Void>?

    init(
        responder: @escaping HTTPAnswerer, registry: ConnectionRegistry, limits: HTTPRequestParser.Limits,
        requestTimeout: TimeAmount, idleTimeout: TimeAmount
    ) {
        self.responder = responder
        self.registry = registry
        // The machine writes answers into buffers of the default allocator, the one every channel uses.
        self.machine = HTTPConnectionStateMachine(
            limits: limits, requestTimeout: requestTimeout, idleTimeout: idleTimeout,
            maxPendingOutput: Self.maxPendingOutput, quiesceGrace: Self.quiesceGrace,
            allocator: ByteBufferAllocator(), now: .now())
    }

    func channelActive(context: ChannelHandlerContext) {
        slot = registry.admit(context.channel)
        if slot == nil {
            context.close(promise: nil)
            return
        }
        scheduleIdleCheck(context: context, after: machine.idleTimeout)
        context.fireChannelActive()
    }

    /// One timer per idle period (not per read).
    private func scheduleIdleCheck(context: ChannelHandlerContext, after delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            switch handler.machine.idleCheck(now: .now()) {
            case .close: context.close(promise: nil)
            case .checkAgain(let delay): handler.scheduleIdleCheck(context: context, after: delay)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        requestTimer?.cancel()
        graceTimer?.cancel()
        machine.channelInactive()
        if slot != nil { registry.remove(context.channel) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        guard machine.read(unwrapInboundIn(data), now: now) else { return }  // after a closing answer
        slot?.touch(now)
        process(context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        perform(machine.flush(), context: context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if machine.writabilityChanged(writable: context.channel.isWritable) {
            process(context: context)
            perform(machine.flush(), context: context)
            if !machine.isPaused { context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in } }
        }
        context.fireChannelWritabilityChanged()
    }

    /// One pass over the bytes read: answers every complete request the machine hands out.
    private func process(context: ChannelHandlerContext) {
        while true {
            switch machine.next(writable: context.channel.isWritable) {
            case .answer(let request, let reply):
                switch responder(request, context.channel.allocator, context.eventLoop) {
                case .now(let response):
                    machine.answerNow(response, reply)
                case .later(let future):
                    let sequence = machine.answerLater(reply)
                    slot?.setAnswering(true)
                    let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                    future.whenComplete { result in
                        let (handler, context) = loopBound.value
                        handler.perform(handler.machine.decided(sequence, result), context: context)
                        if !handler.machine.hasQueuedAnswers { handler.slot?.setAnswering(false) }
                    }
                }
            case .write(let bytes):
                context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            case .pauseReading:
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            case .done(let flush, let timer):
                if let flush { context.writeAndFlush(wrapOutboundOut(flush), promise: nil) }
                setRequestTimer(timer, context: context)
                return
            }
        }
    }

    private func perform(_ output: HTTPConnectionStateMachine.Output, context: ChannelHandlerContext) {
        switch output {
        case .none:
            break
        case .write(let bytes):
            context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
        case .writeAndClose(let bytes):
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in bound.value.close(promise: nil) }
        case .close:
            context.close(promise: nil)
        }
    }

    private func setRequestTimer(_ timer: HTTPConnectionStateMachine.Timer, context: ChannelHandlerContext) {
        switch timer {
        case .keep:
            break
        case .cancel:
            requestTimer?.cancel()
            requestTimer = nil
        case .schedule(let delay):
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            requestTimer = context.eventLoop.scheduleTask(in: delay) {
                let (handler, context) = loopBound.value
                handler.perform(handler.machine.requestTimedOut(), context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if case .schedule(let delay) = machine.quiesce() {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            graceTimer = context.eventLoop.scheduleTask(in: delay) {
                let (handler, context) = loopBound.value
                handler.perform(handler.machine.quiesceGraceElapsed(), context: context)
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
