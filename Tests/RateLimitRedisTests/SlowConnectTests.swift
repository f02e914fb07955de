import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import RateLimitRedis
import RateLimitTestSupport
import Testing

/// A connect slower than the commands' timeout: the commands that waited for it time out, and
/// the connection that finally comes up stays up for the next ones (written late, the expired
/// commands would make its watchdog close it at once, again and again under steady traffic).
@Suite(.enabled(if: redisAvailable)) struct SlowConnectTests {
    @Test func commandsThatTimedOutWhileConnectingDoNotCloseTheNewConnection() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let endpoint = try RedisEndpoint(url: redis.url)
        let resolves = NIOLockedValueBox(0)
        let connection = RedisConnection(
            endpoint: endpoint, tlsContext: nil, eventLoop: loop, connectTimeout: .seconds(2), setup: { [] }, onSetup: { _ in },
            resolve: { loop in
                // Every attempt takes 300 ms before it connects (a slow network, a TLS handshake).
                resolves.withLockedValue { $0 += 1 }
                let address = endpoint.address
                return loop.scheduleTask(in: TimeAmount.milliseconds(300)) { address }.futureResult
            })
        await #expect(throws: RedisConnectionError.timeout) { try await connection.send(["PING"], timeout: .milliseconds(50)).get() }
        // A command with time to spare waits for the same attempt, behind the expired one, and
        // is answered on the connection it opens: no second attempt.
        #expect(try await connection.send(["PING"], timeout: .seconds(1)).get() == .simpleString("PONG"))
        #expect(resolves.withLockedValue { $0 } == 1)
        try await connection.close().get()
        try await group.shutdownGracefully()
    }
}
