import NIOCore

/// One HTTP/1.1 connection as a value: bytes, answers, timers and shutdown in; what to write,
/// when to close and which timer to set out. `HTTPConnectionHandler` performs what it returns.
///
/// It parses with `HTTPRequestParser` and answers in request order (pipelining: an answer
/// decided later holds back the ones after it, and so does a `100 Continue`). It never reads
/// the clock: the events that need the time are given it.
struct HTTPConnectionStateMachine {
    enum State: Equatable {
        /// Reading and answering requests.
        case reading
        /// Shutdown began: every answer says `Connection: close`, and the connection closes
        /// once a read leaves nothing half-way in.
        case quiescing
        /// A closing answer is written or queued: later bytes are ignored, and the connection
        /// closes once every queued answer is out.
        case closing
        /// The channel is gone: queued answers were dropped and late decisions are ignored.
        case closed
    }

    /// How a request's answer is written.
    struct Reply: Equatable {
        /// False: the answer says `Connection: close` and the connection closes after it.
        var keepAlive: Bool
        /// A HEAD request: head only, no body.
        var headOnly: Bool
    }

    /// What a flush point hands to the channel.
    enum Output: Equatable {
        case none
        /// Write and flush.
        case write(ByteBuffer)
        /// Write and flush, then close once written.
        case writeAndClose(ByteBuffer)
        case close
    }

    /// A timer the handler keeps (the request timer, the quiesce grace).
    enum Timer: Equatable {
        case keep
        case schedule(TimeAmount)
        case cancel
    }

    /// One step of a pass over the bytes read.
    enum Step: Equatable {
        /// A complete request: answer it with `answerNow` or `answerLater`, then ask again.
        case answer(HTTPRequest, Reply)
        /// `maxPendingOutput` bytes of answers wait: write and flush them, then ask again (the
        /// channel may stop being writable).
        case write(ByteBuffer)
        /// The client leaves too many answers unread: stop reading, then ask again.
        case pauseReading
        /// The pass is over: write and flush `flush` (a `100 Continue` after the answers before
        /// it) if any, and set the request timer.
        case done(flush: ByteBuffer?, requestTimer: Timer)
    }

    enum IdleCheck: Equatable {
        case close
        case checkAgain(in: TimeAmount)
    }

    private struct QueuedAnswer {
        var response: HTTPResponse?
        var reply: Reply
    }

    let requestTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// Answers waiting for the client beyond this stop the reading (red team 2, F6).
    let maxPendingOutput: Int
    /// How long an idle connection stays open after shutdown begins.
    let quiesceGrace: TimeAmount
    private let allocator: ByteBufferAllocator
    private(set) var state = State.reading
    /// Reading is paused until the channel is writable again.
    private(set) var isPaused = false
    /// A request has started arriving: the request timer runs (it stays set once it fired).
    private(set) var partialRequest = false
    private var lastRead: NIODeadline
    private var parser: HTTPRequestParser
    private var input: ByteBuffer?
    /// Answers written but not yet flushed.
    private var output: ByteBuffer?
    /// Answers not yet written, oldest first, once one of them is decided later.
    private var queued = CircularBuffer<QueuedAnswer>()
    /// Sequence number of `queued.first`.
    private var queuedHead: UInt64 = 0

    init(
        limits: HTTPRequestParser.Limits, requestTimeout: TimeAmount, idleTimeout: TimeAmount,
        maxPendingOutput: Int, quiesceGrace: TimeAmount, allocator: ByteBufferAllocator, now: NIODeadline
    ) {
        self.parser = HTTPRequestParser(limits: limits)
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
        self.maxPendingOutput = maxPendingOutput
        self.quiesceGrace = quiesceGrace
        self.allocator = allocator
        self.lastRead = now
    }

    /// True while an answer decided later is not yet written (the connection is answering).
    var hasQueuedAnswers: Bool { !queued.isEmpty }

    private var acceptsRequests: Bool { state == .reading || state == .quiescing }

    // MARK: reading

    /// Bytes arrived at `now`. False when they are ignored (after a closing answer); otherwise
    /// run a pass with `next`.
    mutating func read(_ bytes: ByteBuffer, now: NIODeadline) -> Bool {
        guard acceptsRequests else { return false }
        lastRead = now
        if input == nil || input?.readableBytes == 0 {
            input = bytes
        } else {
            var bytes = bytes
            input?.writeBuffer(&bytes)
        }
        return true
    }

    /// The next step of a pass over the bytes read; `writable` is the channel's writability now.
    mutating func next(writable: Bool) -> Step {
        guard var buffer = input else { return .done(flush: nil, requestTimer: .keep) }
        input = nil  // keeps the buffer uniquely referenced while it is changed
        guard acceptsRequests, !isPaused else { return endPass(&buffer, flush: nil) }
        if let out = output, out.readableBytes >= maxPendingOutput {
            output = nil
            input = buffer
            return .write(out)
        }
        guard writable else {
            isPaused = true
            input = buffer
            return .pauseReading
        }
        let request: HTTPRequest?
        do {
            request = try parser.next(&buffer)
        } catch {
            var response = HTTPResponse(status: error.status, headers: allocator.buffer(capacity: 0), body: allocator.buffer(capacity: 96))
            response.body.writeError(error.message)
            emit(response, Reply(keepAlive: false, headOnly: false))
            return endPass(&buffer, flush: nil)
        }
        guard let request else {
            var flush: ByteBuffer?
            if appendContinueIfDue() {
                flush = output
                output = nil
            }
            return endPass(&buffer, flush: flush)
        }
        input = buffer
        return .answer(request, Reply(keepAlive: request.keepAlive && state != .quiescing, headOnly: request.method == .head))
    }

    /// Ends a pass: keeps the unread bytes and sets the request timer. Paused with answers
    /// unread, the idle timeout applies, not the request timeout.
    private mutating func endPass(_ buffer: inout ByteBuffer, flush: ByteBuffer?) -> Step {
        if buffer.readableBytes == 0 {
            buffer.clear()
        } else if buffer.readerIndex > 4096 {
            buffer.discardReadBytes()
        }
        let partial = buffer.readableBytes > 0 && !isPaused
        input = buffer
        return .done(flush: flush, requestTimer: requestTimer(partial: partial))
    }

    /// A request that has started must finish arriving within `requestTimeout` (slow clients).
    /// A quiescing connection with nothing half-way in closes once its answers are written.
    private mutating func requestTimer(partial: Bool) -> Timer {
        if partial {
            guard !partialRequest else { return .keep }
            partialRequest = true
            return .schedule(requestTimeout)
        }
        if state == .quiescing { state = .closing }
        guard partialRequest else { return .keep }
        partialRequest = false
        return .cancel
    }

    /// Reading may go on once the client has read enough: true when it was paused and the
    /// channel is writable again. Then run a pass, `flush`, and resume reading unless paused.
    mutating func writabilityChanged(writable: Bool) -> Bool {
        guard isPaused, writable else { return false }
        isPaused = false
        return true
    }

    // MARK: answering

    /// The answer to the request of `reply`, decided now.
    mutating func answerNow(_ response: HTTPResponse, _ reply: Reply) {
        emit(response, reply)
    }

    /// The answer to the request of `reply` is decided later: its sequence number for `decided`.
    mutating func answerLater(_ reply: Reply) -> UInt64 {
        let sequence = queuedHead &+ UInt64(queued.count)
        queued.append(QueuedAnswer(response: nil, reply: reply))
        if !reply.keepAlive { state = .closing }
        return sequence
    }

    /// A later answer arrived: writes every answer at the head of the queue that is ready.
    mutating func decided(_ sequence: UInt64, _ result: Result<HTTPResponse, any Error>) -> Output {
        guard state != .closed, sequence >= queuedHead, sequence - queuedHead < UInt64(queued.count) else { return .none }
        let index = queued.index(queued.startIndex, offsetBy: Int(sequence - queuedHead))
        switch result {
        case .success(let response):
            queued[index].response = response
        case .failure:
            var response = HTTPResponse(status: .internalError, headers: allocator.buffer(capacity: 0), body: allocator.buffer(capacity: 64))
            response.body.writeError("internal error")
            queued[index].response = response
        }
        while let head = queued.first, let response = head.response {
            queued.removeFirst()
            queuedHead &+= 1
            write(response, head.reply)
        }
        _ = appendContinueIfDue()
        return flush()
    }

    /// Writes `response` now, or queues it behind answers still being decided.
    private mutating func emit(_ response: HTTPResponse, _ reply: Reply) {
        if queued.isEmpty {
            write(response, reply)
        } else {
            queued.append(QueuedAnswer(response: response, reply: reply))
            if !reply.keepAlive || response.close { state = .closing }
        }
    }

    private mutating func write(_ response: HTTPResponse, _ reply: Reply) {
        var out = output ?? allocator.buffer(capacity: 512)
        output = nil
        response.write(to: &out, keepAlive: reply.keepAlive, headOnly: reply.headOnly)
        output = out
        if !reply.keepAlive || response.close { state = .closing }
    }

    /// A `100 Continue` goes out only once every earlier answer has (red team 2, F15).
    private mutating func appendContinueIfDue() -> Bool {
        guard parser.continueOwed, queued.isEmpty, acceptsRequests else { return false }
        var out = output ?? allocator.buffer(capacity: 512)
        output = nil
        out.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        output = out
        parser.continueSent()
        return true
    }

    /// A flush point (a read is complete, or a resumed pass is over): what to write, and
    /// whether to close after it.
    mutating func flush() -> Output {
        let close = state == .closing && queued.isEmpty
        if let out = output, out.readableBytes > 0 {
            output = nil
            return close ? .writeAndClose(out) : .write(out)
        }
        return close ? .close : .none
    }

    // MARK: timers and shutdown

    /// The idle timer fired at `now`: close once nothing has been read for `idleTimeout`, no
    /// request is half-way in and no answer is queued; otherwise check again when that could be.
    func idleCheck(now: NIODeadline) -> IdleCheck {
        let quiet = now - lastRead
        if quiet >= idleTimeout, !partialRequest, queued.isEmpty { return .close }
        return .checkAgain(in: max(idleTimeout - quiet, .milliseconds(1)))
    }

    /// The request timer fired: a 408, then close.
    mutating func requestTimedOut() -> Output {
        guard state != .closed else { return .none }
        var response = HTTPResponse(status: .requestTimeout, headers: allocator.buffer(capacity: 0), body: allocator.buffer(capacity: 64))
        response.body.writeError("the request did not arrive in time")
        emit(response, Reply(keepAlive: false, headOnly: false))
        return flush()
    }

    /// Shutdown began. A connection mid-request closes after its answer; an idle one gets the
    /// grace timer, so a request already on its way (in the socket buffer, not yet read) is
    /// still answered.
    mutating func quiesce() -> Timer {
        guard acceptsRequests else { return .keep }
        state = .quiescing
        guard !partialRequest, output == nil, queued.isEmpty else { return .keep }
        return .schedule(quiesceGrace)
    }

    /// The quiesce grace is over: close unless a request arrived meanwhile.
    func quiesceGraceElapsed() -> Output {
        state == .quiescing && !partialRequest && queued.isEmpty ? .close : .none
    }

    /// The channel is gone: queued answers are dropped, and their decisions will be ignored.
    mutating func channelInactive() {
        state = .closed
        queued.removeAll()
        output = nil
    }
}
