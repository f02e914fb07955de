import Foundation
import NIOCore
import RateLimitCore
@testable import RateLimitRedis
import RateLimitTestSupport
import Synchronization
import Testing

/// The store behind Sentinel: one master, one replica and three sentinels, all real.
@Suite(.enabled(if: clusterAvailable), .serialized) struct RedisSentinelTests {
    static let hour = 3600 * second

    static func limiter(_ group: RedisSentinelGroup, timeout: TimeAmount = .seconds(2)) throws -> RedisLimiter {
        var endpoint = RedisEndpoint(address: .tcp(host: "127.0.0.1", port: group.sentinels[0].port))
        endpoint.topology = .sentinel(
            master: RedisSentinelGroup.masterName, sentinels: group.sentinels.map { .tcp(host: "127.0.0.1", port: $0.port) }, password: nil)
        // Connecting asks a sentinel, then logs in and loads five scripts: under a busy test run
        // that can take longer than the fixture's 500 ms, and backoff would then stretch the wait.
        return try RedisLimiter(
            redis: group.servers[0], rules: [rule("api", .tokenBucket, 1_000_000, per: hour)], clock: ManualClock(now: 0), policy: .local,
            timeout: timeout, endpoint: endpoint, connectTimeout: .seconds(2))
    }

    /// The name of `key`'s state in Redis under the rule above.
    static func stateKey(_ key: String) -> String { "sluice:{\(key)}:api:1:1000000:3600000:1000000" }

    /// A `SENTINEL FAILOVER` under load: every request is answered within the timeout (by Redis
    /// or by `on_failure`), and within seconds Sluice writes to the new master.
    @Test func followsAFailoverUnderLoad() async throws {
        let group = try RedisSentinelGroup()
        defer { group.stop() }
        let r = try Self.limiter(group, timeout: .milliseconds(200))
        r.store.start()
        let first = await pollAsync(timeout: .seconds(20)) {
            _ = try? await r.check("api", "before")
            return (try? group.servers[0].command(["EXISTS", Self.stateKey("before")])) == ":1"
        }
        #expect(first, "decided on the first master")
        let load = LoadLoop(r)
        load.start()
        let announced = Mutex<[RedisEndpoint.Address]>([])
        let subscription = SentinelSubscription(
            sentinels: group.sentinels.map { .tcp(host: "127.0.0.1", port: $0.port) }, master: RedisSentinelGroup.masterName,
            password: nil, tls: nil, retry: .milliseconds(100), eventLoop: r.loop
        ) { address in announced.withLock { $0.append(address) } }
        subscription.start()
        try await Task.sleep(for: .milliseconds(300))  // the subscription's SUBSCRIBE is on its way; nothing waits on it
        try group.failover()
        let promoted = group.servers[1]
        #expect(await pollAsync(timeout: .seconds(20)) { (try? group.masterPort()) == promoted.port }, "the sentinels promote the replica")
        // A fresh key found on the promoted server was written there by Sluice after the switch:
        // it no longer replicates from the old master.
        var attempt = 0
        let writesToNewMaster = await pollAsync(timeout: .seconds(10)) {
            attempt += 1
            _ = try? await r.check("api", "after-\(attempt)")
            return (try? promoted.command(["EXISTS", Self.stateKey("after-\(attempt)")])) == ":1"
        }
        #expect(writesToNewMaster, "Sluice writes to the new master within seconds")
        #expect(announced.withLock { $0 } == [.tcp(host: "127.0.0.1", port: promoted.port)], "+switch-master was received")
        await subscription.close()
        let (answered, slowest) = try await load.stop()
        #expect(answered > 0)
        #expect(slowest < .milliseconds(200 + 150), "every request answered within timeout_ms (plus scheduling slack)")
        await r.shutdown()
    }

    @Test func aReplicaIsRefusedAndSentinelRepliesParse() throws {
        let master = RESPValue.array([.bulkString(ByteBuffer(string: "master")), .integer(0), .array([])])
        #expect(throws: Never.self) { try SentinelResolver.requireMaster(master) }
        let replica = RESPValue.array([.bulkString(ByteBuffer(string: "slave")), .bulkString(ByteBuffer(string: "127.0.0.1"))])
        #expect(throws: RedisConnectionError.unavailable("the server Sentinel named is a slave, not the master")) {
            try SentinelResolver.requireMaster(replica)
        }
        let address = RESPValue.array([.bulkString(ByteBuffer(string: "10.0.0.5")), .bulkString(ByteBuffer(string: "6380"))])
        #expect(try SentinelResolver.address(address) == .tcp(host: "10.0.0.5", port: 6380))
        #expect(throws: RedisConnectionError.self) { try SentinelResolver.address(.array(nil)) }
        func message(_ payload: String) -> RESPValue {
            .array(["message", "+switch-master", payload].map { .bulkString(ByteBuffer(string: $0)) })
        }
        #expect(SentinelSubscription.switched(message("main 10.0.0.1 6379 10.0.0.2 6380"), master: "main") == .tcp(host: "10.0.0.2", port: 6380))
        #expect(SentinelSubscription.switched(message("other 10.0.0.1 6379 10.0.0.2 6380"), master: "main") == nil)
        #expect(SentinelSubscription.switched(message("main 10.0.0.1 6379 10.0.0.2"), master: "main") == nil)
    }
}

/// Checks back to back on the store's event loop, timing each from the call to its answer
/// there: the measure is the store's, not the test's task scheduling.
final class LoadLoop: Sendable {
    private let limiter: RateLimiter
    private let store: RedisStore
    private let loop: any EventLoop
    private let state: NIOLoopBoundBox<(answered: Int, slowest: TimeAmount, stopped: EventLoopPromise<(Int, TimeAmount)>?)>

    init(_ r: RedisLimiter) {
        limiter = r.limiter
        store = r.store
        loop = r.loop
        state = NIOLoopBoundBox.makeBoxSendingValue((0, .zero, nil), eventLoop: loop)
    }

    func start() { loop.execute { self.step() } }

    private func step() {
        if let stopped = state.value.stopped {
            stopped.succeed((state.value.answered, state.value.slowest))
            return
        }
        guard let prepared = try? limiter.prepare(CheckRequest(rule: "api", key: "load-\(state.value.answered % 50)")) else { return }
        let started = NIODeadline.now()
        store.decide([prepared], commit: true, on: loop).whenComplete { _ in
            self.state.value.answered += 1
            self.state.value.slowest = max(self.state.value.slowest, NIODeadline.now() - started)
            self.step()
        }
    }

    /// Stops after the check in flight; how many were answered, and the slowest.
    func stop() async throws -> (Int, TimeAmount) {
        let promise = loop.makePromise(of: (Int, TimeAmount).self)
        loop.execute { self.state.value.stopped = promise }
        return try await promise.futureResult.get()
    }
}
