import Logging
import NIOPosix
import RateLimitCore
@testable import RateLimitRedis
import Testing

/// Redis key names: the client's key is the hash tag, so all of a client's rules share a slot.
@Suite struct KeyFormatTests {
    @Test func slotsMatchRedisCluster() {
        #expect(HashSlot.crc16(Array("123456789".utf8)) == 0x31C3)
        #expect(HashSlot.slot(of: "foo") == 12182)
        #expect(HashSlot.slot(of: "{user1000}.following") == HashSlot.slot(of: "{user1000}.followers"))
        #expect(HashSlot.slot(of: "foo{}{bar}") == Int(HashSlot.crc16(Array("foo{}{bar}".utf8)) & 0x3FFF), "an empty tag: the whole key")
        #expect(HashSlot.slot(of: "foo{{bar}}zap") == HashSlot.slot(of: "{bar"))
        #expect(HashSlot.slot(of: "foo{bar}{zap}") == HashSlot.slot(of: "bar"))
    }

    @Test(arguments: ["user-42", "}starts-with-a-brace", "a{b}c", "50%", "ünïcode"])
    func everyRuleOfOneClientSharesASlot(key: String) throws {
        let store = try RedisStore(
            endpoint: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 1)), options: RedisStoreOptions(),
            group: MultiThreadedEventLoopGroup.singleton, fallback: MemoryStore(), clock: ManualClock(now: 0), observer: nil, logger: Logger(label: "t"))
        let perSecond = StoreItem(slot: 0, key: key, limits: try Limits(algorithm: .tokenBucket, limit: 10, period: second), cost: 1)
        let perDay = StoreItem(slot: 1, key: key, limits: try Limits(algorithm: .fixedWindow, limit: 1000, period: 86_400 * second), cost: 1)
        let names = [store.redisKey(rule: "per-second", perSecond), store.redisKey(rule: "per-day", perDay)]
        #expect(Set(names.map(HashSlot.slot(of:))).count == 1, "\(names)")
        #expect(names[0] != names[1])
    }

    @Test func theFormatIsPrefixTagRuleAndLimits() {
        #expect(RedisStore.hashTag("user-42") == "user-42")
        #expect(RedisStore.hashTag("}a{%") == "%7Da%7B%25")
    }
}
