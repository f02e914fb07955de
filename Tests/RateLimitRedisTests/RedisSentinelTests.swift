import Foundation
import NIOCore
import RateLimitCore
@testable import RateLimitRedis
import RateLimitTestSupport
import Testing

/// The store behind Sentinel: one master, one replica and three sentinels, all real.
@Suite(.enabled(if: clusterAvailable), .serialized) struct RedisSentinelTests {
    static let hour = 3600 * second

    static func limiter(_ group: RedisSentinelGroup, timeout: TimeAmount = .seconds(2)) throws -> RedisLimiter {
        var endpoint = RedisEndpoint(address: .tcp(host: "127.0.0.1", port: group.sentinels[0].port))
        endpoint.topology = .sentinel(
            master: RedisSentinelGroup.masterName, sentinels: group.sentinels.map { .tcp(host: "127.0.0.1", port: $0.port) }, password: nil)
        return try RedisLimiter(
            redis: group.servers[0], rules: [rule("api", .tokenBucket, 1_000_000, per: hour)], clock: ManualClock(now: 0), policy: .local,
            timeout: timeout, endpoint: endpoint)
    }

    /// The name of `key`'s state in Redis under the rule above.
    static func stateKey(_ key: String) -> String { "sluice:{\(key)}:api:1:1000000:3600000:1000000" }

    /// A `SENTINEL FAILOVER` under load: every request is answered within the timeout (by Redis
    /// or by `on_failure`), and within seconds Sluice writes to the new master.
    @Test func followsAFailoverUnderLoad() async throws {
        let group = try RedisSentinelGroup()
        defer { group.stop() }
        let timeout = TimeAmount.milliseconds(200)
        let r = try Self.limiter(group, timeout: timeout)
        r.store.start()
        #expect(try await r.check("api", "before").remaining == 999_999)
        #expect(try group.servers[0].command(["EXISTS", Self.stateKey("before")]) == ":1", "written on the first master")
        let stop = Flag()
        let load = Task {
            var (answered, slowest) = (0, Duration.zero)
            while !stop.value.load(ordering: .acquiring) {
                let started = ContinuousClock.now
                _ = try await r.check("api", "load-\(answered % 50)")
                slowest = max(slowest, ContinuousClock.now - started)
                answered += 1
            }
            return (answered, slowest)
        }
        try group.failover()
        let promoted = group.servers[1]
        #expect(poll(timeout: .seconds(20)) { (try? group.masterPort()) == promoted.port }, "the sentinels promote the replica")
        // A fresh key found on the promoted server was written there by Sluice after the switch:
        // it no longer replicates from the old master.
        var attempt = 0
        let writesToNewMaster = await pollAsync(timeout: .seconds(5)) {
            attempt += 1
            _ = try? await r.check("api", "after-\(attempt)")
            return (try? promoted.command(["EXISTS", Self.stateKey("after-\(attempt)")])) == ":1"
        }
        #expect(writesToNewMaster, "Sluice writes to the new master within seconds")
        stop.value.store(true, ordering: .releasing)
        let (answered, slowest) = try await load.value
        #expect(answered > 0)
        #expect(slowest < .milliseconds(200 + 150), "every request answered within timeout_ms (plus scheduling)")
        #expect(poll(timeout: .seconds(10)) { (try? group.role(group.servers[0])) == "slave" }, "the old master is a replica now")
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
    }
}
