import NIOCore
import NIOEmbedded
@testable import RateLimitRedis
import RateLimitCore
import Synchronization
import Testing

/// Replies outside the scripts' contract are protocol errors, never traps (red team 2, F1, F23).
@Suite struct ScriptReplyTests {
    private let item = StoreItem(slot: 0, key: "k", limits: try! Limits(algorithm: .tokenBucket, limit: 100, period: 60_000_000_000, burst: 20), cost: 1)

    private func reply(_ numbers: [Int64]) -> RESPValue { .array(numbers.map { .integer($0) }) }

    @Test func aValidReplyDecodes() throws {
        let d = try RedisStore.decode(reply([1, 19, 3_000_000, 0, 0]), items: [item], batch: false)
        #expect(d.allowed && d.decisions[0].remaining == 19 && d.decisions[0].resetAfter == 3_000_000_000)
        let max = ScriptReply.maxMicroseconds
        #expect(try RedisStore.decode(reply([0, 0, max, max, max]), items: [item], batch: false).decisions[0].retryAfter == max * 1000)
    }

    @Test func outOfRangeNumbersAreProtocolErrors() {
        let big: Int64 = Int64.max / 1000 + 1  // F1: trapped in `* 1000`
        for bad in [
            [1, 5, Int64.max, 0, 0], [1, 5, 0, big, 0], [1, 5, 0, 0, big], [1, 5, -1, 0, 0], [1, 5, 0, Int64.min, 0],
            [1, -5, 0, 0, 0], [2, 5, 0, 0, 0], [-1, 5, 0, 0, 0], [1, 5, ScriptReply.maxMicroseconds + 1, 0, 0],
        ] as [[Int64]] {
            #expect(throws: RedisConnectionError.self, "\(bad)") { try RedisStore.decode(reply(bad), items: [item], batch: false) }
        }
        #expect(throws: RedisConnectionError.self) {
            try RedisStore.decode(reply([7, 0] + [1, 5, 0, 0, 0, 1, 5, 0, 0, 0]), items: [item, item], batch: true)
        }
    }

    /// F23: a reply array far longer than any script's is refused before it is buffered.
    @Test func hugeArraysAreRefused() {
        let decoder = RESPDecoder(maxArrayCount: 4096)
        var buffer = ByteBuffer(string: "*4097\r\n")
        #expect(throws: RESPDecoder.Failure.self) { try decoder.next(&buffer) }
    }

    /// The RESP line limit's verdict does not depend on whether the CR has arrived.
    @Test func longLinesAreRefusedWhateverTheSplit() {
        let line = "+" + String(repeating: "a", count: RESPDecoder.maxLineBytes + 10)
        var whole = ByteBuffer(string: line + "\r\n")
        #expect(throws: RESPDecoder.Failure.self) { try RESPDecoder().next(&whole) }
        var partial = ByteBuffer(string: line)
        #expect(throws: RESPDecoder.Failure.self) { try RESPDecoder().next(&partial) }
    }

    /// F12: every command's deadline is its own: a check written behind a PING with a longer
    /// deadline still times out at its own deadline.
    @Test func aLaterCommandWithAnEarlierDeadlineTimesOutOnTime() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: RESPChannelHandler(), loop: loop)
        defer { _ = try? channel.finish() }
        let ping = loop.makePromise(of: RESPValue.self)
        let check = loop.makePromise(of: RESPValue.self)
        let start = loop.now
        try channel.writeOutbound(RESPCommand(bytes: ByteBuffer(string: "PING"), promise: ping, deadline: start + .milliseconds(250)))
        try channel.writeOutbound(RESPCommand(bytes: ByteBuffer(string: "EVALSHA"), promise: check, deadline: start + .milliseconds(20)))
        loop.advanceTime(by: .milliseconds(19))
        #expect(!pendingFailed(check.futureResult))
        loop.advanceTime(by: .milliseconds(1))
        // Failed at exactly its own deadline, 20 ms, not at the PING's 250 ms.
        #expect(throws: RedisConnectionError.timeout) { try check.futureResult.wait() }
        #expect(throws: RedisConnectionError.timeout) { try ping.futureResult.wait() }
    }

    private func pendingFailed(_ future: EventLoopFuture<RESPValue>) -> Bool {
        let failed = Mutex(false)
        future.whenFailure { _ in failed.withLock { $0 = true } }  // EmbeddedEventLoop: runs inline
        return failed.withLock { $0 }
    }

    @Test func pendingRepliesKnowTheEarliestDeadline() {
        var pending = PendingReplies()
        #expect(pending.earliestDeadline == nil)
        let t = NIODeadline.uptimeNanoseconds(1_000_000)
        pending.expect({ _ in }, by: t + .milliseconds(250))
        pending.expect({ _ in }, by: t + .milliseconds(20))
        pending.expect({ _ in }, by: t + .milliseconds(90))
        #expect(pending.earliestDeadline == t + .milliseconds(20))
        #expect(pending.drain().count == 3)
        #expect(pending.count == 0)
    }
}

/// F18: a reset during an outage says that a reset needs Redis, whatever `on_failure` is.
@Suite struct BackendUnavailableTests {
    @Test func theResetMessageNamesNoPolicy() {
        #expect(!BackendUnavailable(reason: "Redis did not answer in time", reset: true).description.contains("on_failure is deny"))
        #expect(BackendUnavailable(reason: "x", reset: true).description.contains("a reset needs Redis"))
        #expect(BackendUnavailable(reason: "x").description.contains("on_failure is deny"))
        let release = BackendUnavailable(reason: "Redis did not answer in time", release: true).description
        #expect(!release.contains("on_failure is deny") && release.contains("a release needs Redis") && release.contains("lease_ttl"))
    }
}
