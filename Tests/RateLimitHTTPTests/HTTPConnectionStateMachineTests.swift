import Foundation
import NIOCore
@testable import RateLimitHTTP
import Testing

/// The HTTP connection's state machine without a socket, on a manual clock: every transition.
@Suite struct HTTPConnectionStateMachineTests {
    typealias Machine = HTTPConnectionStateMachine
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    private func machine(maxPendingOutput: Int = 1 << 20) -> Machine {
        Machine(
            limits: .default, requestTimeout: .seconds(10), idleTimeout: .seconds(60), maxPendingOutput: maxPendingOutput,
            quiesceGrace: .milliseconds(100), allocator: ByteBufferAllocator(), now: Self.start)
    }

    private static func get(_ path: String, _ extra: String = "", version: String = "1.1") -> String {
        "GET \(path) HTTP/\(version)\r\n\(extra)\r\n"
    }

    // MARK: pipelining

    @Test func answersNowAreWrittenInOrderAtTheFlush() {
        var m = machine()
        #expect(m.feed(Self.get("/a") + Self.get("/b")) == [.now("/a"), .now("/b"), .done(flush: nil, timer: .keep)])
        #expect(m.flush().summary == .write(["200 /a", "200 /b"]))
        #expect(m.flush() == .none)
        #expect(m.state == .reading)
    }

    /// Answers decided later, out of order, are written in request order; an answer decided now
    /// behind a pending one waits for it.
    @Test func laterAnswersAreWrittenInRequestOrder() {
        var m = machine()
        #expect(m.feed(Self.get("/later1") + Self.get("/later2") + Self.get("/now3"))
            == [.later(0), .later(1), .now("/now3"), .done(flush: nil, timer: .keep)])
        #expect(m.flush() == .none)
        #expect(m.decided(1, .success(.answer("/later2"))) == .none)
        #expect(m.hasQueuedAnswers)
        #expect(m.decided(0, .success(.answer("/later1"))).summary == .write(["200 /later1", "200 /later2", "200 /now3"]))
        #expect(!m.hasQueuedAnswers)
        // Sequence numbers (the answer now took one too) go on after the queue emptied; a
        // stale or unknown one is ignored; a failed decision is a 500.
        #expect(m.feed(Self.get("/later4")) == [.later(3), .done(flush: nil, timer: .keep)])
        #expect(m.decided(1, .success(.answer("/x"))) == .none)
        #expect(m.decided(4, .success(.answer("/x"))) == .none)
        #expect(m.decided(3, .failure(TestError())).summary == .write(["500"]))
    }

    @Test func headAnswersCarryNoBody() {
        var m = machine()
        #expect(m.feed("HEAD /a HTTP/1.1\r\n\r\n") == [.now("/a"), .done(flush: nil, timer: .keep)])
        #expect(m.flush().summary == .write(["200"]))
    }

    // MARK: closing

    @Test(arguments: [Self.get("/a", "Connection: close\r\n"), Self.get("/a", version: "1.0")])
    func aClosingRequestClosesAfterItsAnswer(request: String) {
        var m = machine()
        // The bytes behind it stay unparsed (and count as a request half-way in).
        #expect(m.feed(request + Self.get("/b")) == [.now("/a"), .done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.state == .closing)
        #expect(m.flush().summary == .writeAndClose(["200 /a close"]))
        #expect(m.feed(Self.get("/c")) == nil)  // ignored
        #expect(m.flush() == .close)
    }

    @Test func aClosingRequestAnsweredLaterClosesOnceWritten() {
        var m = machine()
        #expect(m.feed(Self.get("/later", "Connection: close\r\n") + Self.get("/b")) == [.later(0), .done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.flush() == .none)  // not before the answer is out
        #expect(m.decided(0, .success(.answer("/later"))).summary == .writeAndClose(["200 /later close"]))
    }

    @Test func aParseErrorClosesAndLaterBytesAreIgnored() {
        var m = machine()
        #expect(m.feed(Self.get("/later") + Self.get("/a", "Content-Length: x\r\n")) == [.later(0), .done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.state == .closing)
        #expect(m.flush() == .none)
        #expect(m.feed(Self.get("/b")) == nil)
        #expect(m.decided(0, .success(.answer("/later"))).summary == .writeAndClose(["200 /later", "400 close"]))
    }

    // MARK: timers

    @Test func idleTimeoutClosesOnlyAQuietIdleConnection() {
        var m = machine()
        #expect(m.idleCheck(now: Self.start + .seconds(30)) == .checkAgain(in: .seconds(30)))
        #expect(m.idleCheck(now: Self.start + .seconds(60)) == .close)
        // A read restarts the quiet period.
        #expect(m.feed(Self.get("/a"), at: Self.start + .seconds(45)) == [.now("/a"), .done(flush: nil, timer: .keep)])
        #expect(m.idleCheck(now: Self.start + .seconds(60)) == .checkAgain(in: .seconds(45)))
        #expect(m.idleCheck(now: Self.start + .seconds(105)) == .close)
        // Not while an answer is queued, nor while a request is half-way in.
        #expect(m.feed(Self.get("/later"), at: Self.start + .seconds(110)) == [.later(0), .done(flush: nil, timer: .keep)])
        #expect(m.idleCheck(now: Self.start + .seconds(200)) == .checkAgain(in: .milliseconds(1)))
        _ = m.decided(0, .success(.answer("/later")))
        #expect(m.idleCheck(now: Self.start + .seconds(200)) == .close)
        #expect(m.feed("GET /b HT", at: Self.start + .seconds(210)) == [.done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.idleCheck(now: Self.start + .seconds(300)) == .checkAgain(in: .milliseconds(1)))
    }

    /// The request timer runs only while a request is partly received: a 408, then close.
    @Test func requestTimeoutAnswers408AndCloses() {
        var m = machine()
        #expect(m.feed("GET /a HTTP/1.1\r\n") == [.done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.feed("Host: x\r\n") == [.done(flush: nil, timer: .keep)])
        #expect(m.feed("\r\n") == [.now("/a"), .done(flush: nil, timer: .cancel)])
        #expect(m.flush().summary == .write(["200 /a"]))
        #expect(m.feed("GET /b HTTP/1.1\r\n") == [.done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.requestTimedOut().summary == .writeAndClose(["408 close"]))
        #expect(m.state == .closing)
        #expect(m.feed("\r\n") == nil)
    }

    @Test func requestTimeoutWaitsBehindAQueuedAnswer() {
        var m = machine()
        #expect(m.feed(Self.get("/later") + "GET /b") == [.later(0), .done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.requestTimedOut() == .none)
        #expect(m.decided(0, .success(.answer("/later"))).summary == .writeAndClose(["200 /later", "408 close"]))
    }

    // MARK: quiesce

    @Test func quiesceClosesAnIdleConnectionAfterTheGrace() {
        var m = machine()
        #expect(m.quiesce() == .schedule(.milliseconds(100)))
        #expect(m.state == .quiescing)
        #expect(m.quiesceGraceElapsed() == .close)
    }

    /// A request half-way in when the grace ends keeps the connection open until its answer.
    @Test func quiesceGraceWaitsForARequestHalfWayIn() {
        var m = machine()
        #expect(m.quiesce() == .schedule(.milliseconds(100)))
        #expect(m.feed("GET /a HTTP/1.1\r\n") == [.done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.state == .quiescing)
        #expect(m.quiesceGraceElapsed() == .none)
        #expect(m.feed("\r\n") == [.now("/a"), .done(flush: nil, timer: .cancel)])
        #expect(m.flush().summary == .writeAndClose(["200 /a close"]))
    }

    /// A keep-alive request that arrives during the grace is answered with `Connection: close`.
    @Test func quiesceAnswersARequestInTheGraceThenCloses() {
        var m = machine()
        #expect(m.quiesce() == .schedule(.milliseconds(100)))
        #expect(m.feed(Self.get("/a")) == [.now("/a"), .done(flush: nil, timer: .keep)])
        #expect(m.state == .closing)
        #expect(m.quiesceGraceElapsed() == .none)
        #expect(m.flush().summary == .writeAndClose(["200 /a close"]))
    }

    @Test func quiesceMidRequestClosesAfterItsAnswer() {
        var m = machine()
        #expect(m.feed("GET /later HTTP/1.1\r\n") == [.done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.quiesce() == .keep)
        #expect(m.quiesceGraceElapsed() == .none)
        #expect(m.feed("\r\n") == [.later(0), .done(flush: nil, timer: .cancel)])
        #expect(m.flush() == .none)
        #expect(m.decided(0, .success(.answer("/later"))).summary == .writeAndClose(["200 /later close"]))
        #expect(m.quiesce() == .keep)  // already closing
    }

    // MARK: backpressure

    /// Answers beyond `maxPendingOutput` are handed to the channel before parsing goes on.
    @Test func largeOutputIsWrittenBeforeParsingOn() {
        var m = machine(maxPendingOutput: 10)
        #expect(m.feed(Self.get("/a") + Self.get("/b"))
            == [.now("/a"), .write(["200 /a"]), .now("/b"), .write(["200 /b"]), .done(flush: nil, timer: .keep)])
        #expect(m.flush() == .none)
    }

    /// While the channel is not writable the reading pauses (and so does the request timer);
    /// a writable channel resumes it.
    @Test func backpressurePausesAndResumes() {
        var m = machine()
        #expect(m.feed("GET /a HTTP/1.1\r\n") == [.done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.feed("\r\n" + Self.get("/b"), writable: false) == [.pause, .done(flush: nil, timer: .cancel)])
        #expect(m.isPaused)
        #expect(m.feed("GET /c", writable: false) == [.done(flush: nil, timer: .keep)])  // kept, not parsed
        #expect(m.writabilityChanged(writable: false) == false)
        #expect(m.writabilityChanged(writable: true) == true)
        #expect(!m.isPaused)
        #expect(m.pass() == [.now("/a"), .now("/b"), .done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(m.flush().summary == .write(["200 /a", "200 /b"]))
        #expect(m.writabilityChanged(writable: true) == false)
    }

    // MARK: 100 Continue

    @Test func continueIsSentOnceEveryEarlierAnswerIsOut() {
        let expecting = "POST /c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        var m = machine()
        #expect(m.feed(expecting) == [.done(flush: ["100"], timer: .schedule(.seconds(10)))])
        #expect(m.feed("{}") == [.now("/c"), .done(flush: nil, timer: .cancel)])
        #expect(m.flush().summary == .write(["200 /c"]))

        var queued = machine()
        #expect(queued.feed(Self.get("/later") + expecting) == [.later(0), .done(flush: nil, timer: .schedule(.seconds(10)))])
        #expect(queued.decided(0, .success(.answer("/later"))).summary == .write(["200 /later", "100"]))
        #expect(queued.feed("{}") == [.now("/c"), .done(flush: nil, timer: .cancel)])
        #expect(queued.flush().summary == .write(["200 /c"]))
    }

    // MARK: channel inactive

    @Test func channelInactiveDropsQueuedAnswers() {
        var m = machine()
        #expect(m.feed(Self.get("/later") + Self.get("/a")) == [.later(0), .now("/a"), .done(flush: nil, timer: .keep)])
        m.channelInactive()
        #expect(m.state == .closed)
        #expect(!m.hasQueuedAnswers)
        #expect(m.decided(0, .success(.answer("/later"))) == .none)
        #expect(m.feed(Self.get("/b")) == nil)
        #expect(m.flush() == .none)
        #expect(m.requestTimedOut() == .none)
        #expect(m.quiesce() == .keep)
    }
}

private struct TestError: Error {}

extension HTTPResponse {
    /// A 200 whose body is the request's path.
    static func answer(_ path: String) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ByteBuffer(), body: ByteBuffer(string: path))
    }
}

/// What the handler did with a step, for exact comparison.
enum Logged: Equatable {
    case now(String)
    case later(UInt64)
    case write([String])
    case pause
    case done(flush: [String]?, timer: HTTPConnectionStateMachine.Timer)
}

/// An output, its bytes summarised per response.
enum Summary: Equatable {
    case none, write([String]), writeAndClose([String]), close
}

extension HTTPConnectionStateMachine.Output {
    var summary: Summary {
        switch self {
        case .none: .none
        case .write(let bytes): .write(bytes.responses)
        case .writeAndClose(let bytes): .writeAndClose(bytes.responses)
        case .close: .close
        }
    }
}

extension ByteBuffer {
    /// Each response as its status code, its body when it is a path, and `close` when it
    /// says `Connection: close`.
    var responses: [String] {
        String(buffer: self).components(separatedBy: "HTTP/1.1 ").dropFirst().map { part in
            let sections = part.components(separatedBy: "\r\n\r\n")
            var line = String(part.prefix(3))
            if let body = sections.dropFirst().first, body.hasPrefix("/") { line += " " + body }
            if sections[0].contains("Connection: close") { line += " close" }
            return line
        }
    }
}

extension HTTPConnectionStateMachine {
    /// Reads `text` at `now` and runs the pass as `HTTPConnectionHandler` does; nil when the
    /// bytes are ignored.
    mutating func feed(_ text: String, at now: NIODeadline = HTTPConnectionStateMachineTests.start, writable: Bool = true) -> [Logged]? {
        guard read(ByteBuffer(string: text), now: now) else { return nil }
        return pass(writable: writable)
    }

    /// One pass: paths starting `/later` are answered later, the others now (body: the path).
    mutating func pass(writable: Bool = true) -> [Logged] {
        var log: [Logged] = []
        while true {
            switch next(writable: writable) {
            case .answer(let request, let reply):
                if request.path.hasPrefix("/later") {
                    log.append(.later(answerLater(reply)))
                } else {
                    answerNow(.answer(request.path), reply)
                    log.append(.now(request.path))
                }
            case .write(let bytes): log.append(.write(bytes.responses))
            case .pauseReading: log.append(.pause)
            case .done(let flush, let timer):
                log.append(.done(flush: flush?.responses, timer: timer))
                return log
            }
        }
    }
}
