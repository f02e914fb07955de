import NIOCore
import RateLimitCore
@testable import RateLimitRedis
import RateLimitTestSupport
import Synchronization
import Testing

let clusterAvailable = redisAvailable && (RedisClusterProcess.cli != nil || RedisServerProcess.toolsRequired)

/// The store on a real three-master Redis Cluster made by `redis-cli --cluster create`.
@Suite(.enabled(if: clusterAvailable), .serialized) struct RedisClusterTests {
    static let hour = 3600 * second

    static func endpoint(_ cluster: RedisClusterProcess) -> RedisEndpoint {
        var endpoint = RedisEndpoint(address: .tcp(host: "127.0.0.1", port: cluster.nodes[0].port))
        endpoint.topology = .cluster(seeds: cluster.nodes.map { .tcp(host: "127.0.0.1", port: $0.port) })
        return endpoint
    }

    static func limiter(_ cluster: RedisClusterProcess, _ rules: [Rule], clock: ManualClock = ManualClock(now: 0), scriptClock: ManualClock? = nil)
        throws -> RedisLimiter
    {
        try RedisLimiter(redis: cluster.nodes[0], rules: rules, clock: clock, scriptClock: scriptClock, endpoint: endpoint(cluster))
    }

    /// Two keys whose hash tags share a slot (found by search: the slot function is known).
    static func keysInOneSlot() -> (String, String, Int) {
        let slot = HashSlot.slot(of: "k0")
        let other = (1...).lazy.map { "k\($0)" }.first { HashSlot.slot(of: $0) == slot } ?? "k0"
        return ("k0", other, slot)
    }

    @Test func conformanceTracesPassOnCluster() async throws {
        let cluster = try RedisClusterProcess()
        defer { cluster.stop() }
        for seed in [1, 2] as [UInt64] {
            for node in cluster.nodes { #expect(try cluster.cli(node, ["FLUSHALL"]) == "OK") }  // each trace on its own clock
            try await ConformanceTests.trace(seed: seed) { rules, clock in try Self.limiter(cluster, rules, clock: clock, scriptClock: clock) }
        }
    }

    @Test func twoInstancesShareOneBurstExactlyOnce() async throws {
        let cluster = try RedisClusterProcess()
        defer { cluster.stop() }
        let rules = [rule("api", .tokenBucket, 10, per: Self.hour)]
        let a = try Self.limiter(cluster, rules)
        let b = try Self.limiter(cluster, rules)
        let keys = ["alice", "bob", "carol", "dave"]  // spread over the masters
        var allowed: [String: Int] = [:]
        for i in 0..<120 {
            let key = keys[i % keys.count]
            if try await (i % 2 == 0 ? a : b).check("api", key).allowed { allowed[key, default: 0] += 1 }
        }
        #expect(allowed == ["alice": 10, "bob": 10, "carol": 10, "dave": 10])
        #expect(Set(keys.map(HashSlot.slot(of:)).map { try? cluster.owner(of: $0).port }).count > 1, "the keys live on several masters")
        await a.shutdown()
        await b.shutdown()
    }

    /// Per second plus per day for one user: one script call on one slot, all or nothing.
    @Test func multiRuleBatchForOneKeyIsAtomic() async throws {
        let cluster = try RedisClusterProcess()
        defer { cluster.stop() }
        let r = try Self.limiter(cluster, [rule("second", .tokenBucket, 5, per: second), rule("day", .fixedWindow, 3, per: 24 * Self.hour)])
        let batch = [CheckRequest(rule: "second", key: "user-1"), CheckRequest(rule: "day", key: "user-1")]
        let verdicts = try await (0..<4).asyncMap { _ in try await r.check(batch: batch).allowed }
        #expect(verdicts == [true, true, true, false])
        #expect(try await r.check("second", "user-1", cost: 0, commit: false).remaining == 2, "the denied batch consumed nothing")
        let calls = r.observer.snapshot.operations.filter { !$0.key.hasPrefix("ping") }.values.reduce(0, +)
        #expect(calls == 5, "one script call per batch: never split")
        #expect(r.observer.snapshot.fallbacks.isEmpty)
        await r.shutdown()
    }

    /// A slot moved by hand: ASK while it migrates (new keys go to the importing node), MOVED
    /// once it has moved; the state moves with the keys and nothing falls back.
    @Test func followsAskAndMovedWhileASlotMigrates() async throws {
        let cluster = try RedisClusterProcess()
        defer { cluster.stop() }
        let r = try Self.limiter(cluster, [rule("api", .fixedWindow, 100, per: Self.hour)])
        let (old, new, slot) = Self.keysInOneSlot()
        #expect(try await r.check("api", old).remaining == 99)
        let source = try cluster.owner(of: slot)
        let target = try #require(cluster.nodes.first { $0.port != source.port })
        let (sourceID, targetID) = (try cluster.cli(source, ["CLUSTER", "MYID"]), try cluster.cli(target, ["CLUSTER", "MYID"]))
        #expect(try cluster.cli(target, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceID]) == "OK")
        #expect(try cluster.cli(source, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID]) == "OK")
        #expect(try await r.check("api", new).remaining == 99, "a key the source lacks: ASK, then ASKING on the target")
        #expect(try cluster.cli(target, ["DBSIZE"]) == "1")
        #expect(try await r.check("api", old).remaining == 98, "a key the source still has is decided there")
        let oldKey = try #require(try cluster.cli(source, ["CLUSTER", "GETKEYSINSLOT", String(slot), "10"]).split(separator: "\n").first)
        #expect(try cluster.cli(source, ["MIGRATE", "127.0.0.1", String(target.port), String(oldKey), "0", "5000"]) == "OK")
        for node in cluster.nodes { _ = try cluster.cli(node, ["CLUSTER", "SETSLOT", String(slot), "NODE", targetID]) }
        #expect(try await r.check("api", old).remaining == 97, "MOVED: the state is found on its new node")
        #expect(try await r.check("api", new).remaining == 98)
        let counts = r.observer.snapshot
        #expect(counts.fallbacks.isEmpty)
        #expect(!counts.operations.keys.contains { $0.hasSuffix("/error") || $0.hasSuffix("/unavailable") || $0.hasSuffix("/timeout") })
        await r.shutdown()
    }

    /// `redis-cli --cluster reshard` moves slots, keys and all, while checks run: no errors.
    @Test func reshardUnderLoadCausesNoErrors() async throws {
        let cluster = try RedisClusterProcess()
        defer { cluster.stop() }
        let r = try Self.limiter(cluster, [rule("api", .tokenBucket, 1_000_000, per: Self.hour)])
        let keys = (0..<200).map { "user-\($0)" }
        for key in keys { _ = try await r.check("api", key) }
        let (from, to) = (cluster.nodes[0], cluster.nodes[1])
        let done = Flag()
        let reshard = Task.detached {
            defer { done.value.store(true, ordering: .releasing) }
            try cluster.reshard(slots: 1000, from: from, to: to)
        }
        var checks = 0
        while !done.value.load(ordering: .acquiring) {
            for key in keys.shuffled().prefix(20) {
                #expect(try await r.check("api", key).allowed)
                checks += 1
            }
        }
        try await reshard.value
        for key in keys { _ = try await r.check("api", key) }
        let counts = r.observer.snapshot
        #expect(checks > 0)
        #expect(counts.fallbacks.isEmpty, "\(counts.operations)")
        #expect(!counts.operations.keys.contains { $0.hasSuffix("/error") || $0.hasSuffix("/unavailable") || $0.hasSuffix("/timeout") })
        await r.shutdown()
    }

    @Test func slotMapAndRedirectsParse() throws {
        let reply = RESPValue.array([
            .array([.integer(0), .integer(5460), .array([.bulkString(ByteBuffer(string: "10.0.0.1")), .integer(7000), .bulkString(nil)])]),
            .array([.integer(5461), .integer(16383), .array([.bulkString(ByteBuffer(string: "")), .integer(7001)])]),
        ])
        let map = try ClusterSlotMap(slots: reply, askedHost: "seed")
        #expect(map.node(for: 0) == .tcp(host: "10.0.0.1", port: 7000))
        #expect(map.node(for: 16383) == .tcp(host: "seed", port: 7001))
        #expect(map.uncovered == 0)
        #expect(ClusterRedirect("MOVED 3999 127.0.0.1:6381", askedHost: "x") == .moved(slot: 3999, to: .tcp(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirect("ASK 3999 :6381", askedHost: "x") == .ask(slot: 3999, to: .tcp(host: "x", port: 6381)))
        #expect(ClusterRedirect("MOVED 16384 h:1", askedHost: "x") == nil)
        #expect(ClusterRedirect("WRONGTYPE Operation against a key", askedHost: "x") == nil)
        #expect(throws: RedisConnectionError.self) { try ClusterSlotMap(slots: .array([.array([.integer(9), .integer(3)])]), askedHost: "x") }
    }

    @Test func batchesSplitBySlotInFirstSeenOrder() {
        let keys = ["sluice:{a}:r", "sluice:{b}:r", "sluice:{a}:s", "sluice:{c}:r"]
        let groups = RedisStore.slotGroups(keys)
        #expect(groups.flatMap { $0 }.sorted() == [0, 1, 2, 3])
        #expect(groups.first == [0, 2])
    }
}

final class Flag: Sendable {
    let value = Atomic<Bool>(false)
}
