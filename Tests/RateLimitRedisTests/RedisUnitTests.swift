import NIOCore
import NIOConcurrencyHelpers
import NIOEmbedded
import RateLimitCore
@testable import RateLimitRedis
import Testing

@Suite struct RedisEndpointTests {
    @Test func parsesTCPWithCredentialsAndDatabase() throws {
        let e = try RedisEndpoint(url: "redis://app:s%40cret@redis.example:6380/2")
        #expect(e.address == .tcp(host: "redis.example", port: 6380))
        #expect(e.username == "app")
        #expect(e.password == "s@cret")
        #expect(e.database == 2)
        #expect(!e.description.contains("cret"), "the password must never be printed")
    }

    @Test func defaultsAndOtherForms() throws {
        #expect(try RedisEndpoint(url: "redis://redis").address == .tcp(host: "redis", port: 6379))
        #expect(try RedisEndpoint(url: "redis://:pw@[::1]:7000").address == .tcp(host: "::1", port: 7000))
        #expect(try RedisEndpoint(url: "redis://:pw@h").password == "pw")
        let unix = try RedisEndpoint(url: "unix:///run/redis.sock?db=3")
        #expect(unix.address == .unix(path: "/run/redis.sock"))
        #expect(unix.database == 3)
    }

    @Test(arguments: ["http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x", "unix://rel", "rediss://"])
    func rejectsBadURLs(url: String) {
        #expect(throws: RedisEndpoint.ParseError.self) { try RedisEndpoint(url: url) }
    }
}

@Suite struct CircuitBreakerTests {
    private func allow(_ breaker: inout CircuitBreaker, _ now: Int64) -> Bool { breaker.allow(now: now) }

    @Test func opensAfterConsecutiveFailuresAndProbesAfterTheCooldown() {
        var breaker = CircuitBreaker(failureThreshold: 3, openDuration: 100)
        #expect(allow(&breaker, 0))
        breaker.recordFailure(now: 0)
        breaker.recordFailure(now: 1)
        breaker.recordSuccess()  // a success resets the count
        for t in 2...4 { breaker.recordFailure(now: Int64(t)) }
        #expect(breaker.state == .open(until: 104))
        #expect(!allow(&breaker, 103), "open: refused at once")
        #expect(allow(&breaker, 104), "cooldown over: one probe")
        #expect(!allow(&breaker, 104), "only one probe at a time")
        breaker.recordFailure(now: 110)
        #expect(breaker.state == .open(until: 210), "a failed probe opens it again")
        #expect(allow(&breaker, 210))
        breaker.recordSuccess()
        #expect(breaker.isClosed)
        #expect(allow(&breaker, 211))
    }
}

@Suite struct RESPChannelTests {
    /// The outcome of a future on an EmbeddedEventLoop (never `wait()` there: its callbacks run
    /// only when the loop is run, so `wait()` would block forever).
    private func outcome(_ future: EventLoopFuture<RESPValue>, _ loop: EmbeddedEventLoop) -> Result<RESPValue, any Error>? {
        let box = NIOLockedValueBox<Result<RESPValue, any Error>?>(nil)
        future.whenComplete { result in box.withLockedValue { $0 = result } }
        loop.run()
        return box.withLockedValue { $0 }
    }

    @Test func repliesCompleteTheirCommandsInOrderEvenWhenSplit() throws {
        let channel = EmbeddedChannel(handler: RESPChannelHandler())
        let loop = channel.embeddedEventLoop
        let first = loop.makePromise(of: RESPValue.self)
        let second = loop.makePromise(of: RESPValue.self)
        try channel.writeOutbound(RESPCommand(bytes: ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"), promise: first))
        try channel.writeOutbound(RESPCommand(bytes: ByteBuffer(string: "*1\r\n$4\r\nTIME\r\n"), promise: second))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"))
        try channel.writeInbound(ByteBuffer(string: "+PONG\r\n*2\r\n$1\r"))
        #expect(try outcome(first.futureResult, loop)?.get() == .simpleString("PONG"))
        #expect(outcome(second.futureResult, loop) == nil, "half a reply completes nothing")
        try channel.writeInbound(ByteBuffer(string: "\n0\r\n:5\r\n"))
        #expect(try outcome(second.futureResult, loop)?.get() == .array([.bulkString(ByteBuffer(string: "0")), .integer(5)]))
    }

    @Test func closingFailsEveryWaitingCommand() throws {
        let channel = EmbeddedChannel(handler: RESPChannelHandler())
        let promise = channel.embeddedEventLoop.makePromise(of: RESPValue.self)
        try channel.writeOutbound(RESPCommand(bytes: ByteBuffer(string: "*1\r\n$4\r\nPING\r\n"), promise: promise))
        _ = try channel.finish()
        #expect(throws: RedisConnectionError.closed) { try outcome(promise.futureResult, channel.embeddedEventLoop)?.get() }
    }

    @Test func anUnaskedReplyIsAProtocolError() throws {
        let channel = EmbeddedChannel(handler: RESPChannelHandler())
        try channel.writeInbound(ByteBuffer(string: "+surprise\r\n"))
        #expect(!channel.isActive)
    }

    @Test func backoffGrowsAndIsCapped() {
        typealias State = RedisConnectionState<Int, Int>
        for failures in 1...30 {
            let full = min(State.firstBackoff.nanoseconds << min(failures - 1, 16), State.maxBackoff.nanoseconds)
            #expect(State.backoff(failures: failures, jitter: 0).nanoseconds == full / 2)
            #expect(State.backoff(failures: failures, jitter: UInt64(full / 2)).nanoseconds == full)
            #expect((full / 2...full).contains(State.backoff(failures: failures, jitter: .max).nanoseconds))
        }
    }
}
