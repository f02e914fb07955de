@testable import RateLimitCore
import Testing

/// The bounded key table: every transition of its eviction clock (issue 16).
@Suite struct KeyTableTests {
    private let hour = limits(.fixedWindow, 1, per: 3600 * second)

    private func item(_ key: String, slot: Int = 0) -> StoreItem {
        StoreItem(slot: slot, key: key, limits: hour, cost: 1)
    }

    /// Consumes one unit of `key`: true when allowed (a fresh key), false when already spent.
    private func spend(_ table: inout KeyTable, _ key: String, slot: Int = 0) -> Bool {
        table.decide(item(key, slot: slot), now: 0, commit: true).allowed
    }

    /// Concurrency keys count against the cap too (a flood of new keys holding leases must not
    /// grow memory past `--max-keys`): an ordinary key is evicted first; with none left, another
    /// concurrency key is, its leases forgotten, never the one being added.
    @Test func concurrencyKeysAreWithinTheCap() {
        let jobs = limits(.concurrency, 2, per: 30 * second)
        func acquire(_ table: inout KeyTable, _ key: String, slot: Int = 1) -> Decision {
            table.decide(StoreItem(slot: slot, key: key, limits: jobs, cost: 1), now: 0, commit: true)
        }
        var table = KeyTable(capacity: 4)
        #expect(spend(&table, "a") && spend(&table, "b"))
        #expect(acquire(&table, "j1").lease != nil && acquire(&table, "j2").lease != nil)
        #expect(table.held == 4)
        #expect(acquire(&table, "j3").lease != nil)  // evicts ordinary a, the least recent
        #expect(table.held == 4 && table.state(0, "a") == nil && table.state(0, "b") != nil)
        #expect(acquire(&table, "j4").lease != nil)  // evicts ordinary b
        #expect(table.held == 4 && table.count == 0 && table.evictedAtCapacity == 2)
        for i in 5...100 { #expect(acquire(&table, "j\(i)").lease != nil) }  // only concurrency keys left
        #expect(table.held == 4 && table.evictedAtCapacity == 98)
        #expect(acquire(&table, "j100").lease != nil && acquire(&table, "j100").lease == nil, "the newest key was kept: its limit of 2 holds")
        #expect(spend(&table, "z") && table.held == 4, "an ordinary key at a cap of concurrency keys evicts one")
        // Peeks and denials add nothing.
        #expect(table.decide(StoreItem(slot: 1, key: "peek", limits: jobs, cost: 0), now: 0, commit: true).lease == nil)
        #expect(table.held == 4)
    }

    @Test func aBatchsConcurrencyKeysAreWithinTheCapToo() {
        let store = MemoryStore(shardCount: 1, maxKeys: 3)
        let jobs = limits(.concurrency, 1, per: 30 * second)
        for i in 0..<10 {
            let batch = store.decideBatch([StoreItem(slot: 0, key: "b\(i)", limits: jobs, cost: 1)], now: 0, commit: true)
            #expect(batch.allowed)
        }
        #expect(store.trackedKeys == 3)
    }

    @Test func neverHoldsMoreThanItsCapacity() {
        var table = KeyTable(capacity: 100)
        for i in 0..<10_000 { #expect(spend(&table, "k\(i)")) }
        #expect(table.count == 100)
        #expect(table.evictedAtCapacity == 9_900)
    }

    @Test func evictsTheLeastRecentlyUsedFirst() {
        var table = KeyTable(capacity: 3)
        #expect(spend(&table, "a") && spend(&table, "b") && spend(&table, "c"))
        #expect(!spend(&table, "a"))  // a used again: b is now the least recently used
        #expect(spend(&table, "d"))   // evicts b
        #expect(table.state(0, "b") == nil)
        #expect(table.state(0, "a") != nil && table.state(0, "c") != nil && table.state(0, "d") != nil)
        #expect(spend(&table, "b"))   // b returns fresh, as a new key; evicts c (not used since)
        #expect(table.state(0, "c") == nil)
    }

    @Test func aKeyInUseKeepsItsExactStateUnderAFlood() {
        var table = KeyTable(capacity: 64)
        let hot = StoreItem(slot: 0, key: "hot", limits: limits(.tokenBucket, 1000, per: second), cost: 1)
        var remaining: [Int64] = []
        for i in 0..<5_000 {
            if i % 10 == 0 { remaining.append(table.decide(hot, now: 0, commit: true).remaining) }
            _ = spend(&table, "flood-\(i)")
        }
        #expect(remaining == (0..<500).map { 999 - Int64($0) })
    }

    @Test func peeksAndDenialsStoreNothing() {
        var table = KeyTable(capacity: 10)
        _ = table.decide(item("p"), now: 0, commit: false)
        _ = table.decide(StoreItem(slot: 0, key: "z", limits: hour, cost: 0), now: 0, commit: true)
        #expect(table.count == 0)
    }

    @Test func goneKeysLeaveStaleEntriesThatAreSkipped() {
        var table = KeyTable(capacity: 4)
        for key in ["a", "b", "c", "d"] { #expect(spend(&table, key)) }
        table.remove(slot: 0, key: "a")  // reset
        #expect(table.count == 3)
        #expect(spend(&table, "e"))      // room: nothing evicted
        #expect(table.evictedAtCapacity == 0)
        table.clear(slot: 0)             // the rule changed
        #expect(table.count == 0)
        for key in ["f", "g", "h", "i", "j"] { #expect(spend(&table, key)) }
        #expect(table.count == 4)
        #expect(table.evictedAtCapacity == 1)
        #expect(table.state(0, "f") == nil)
    }

    @Test func sweptKeysFreeTheirPlaces() {
        var table = KeyTable(capacity: 1_000)
        for i in 0..<1_000 { #expect(spend(&table, "k\(i)")) }
        let removed = table.removeIdle(now: 3600 * second) { _, _ in self.hour }
        #expect(removed == 1_000 && table.count == 0)
        for i in 0..<1_000 { #expect(spend(&table, "n\(i)")) }
        #expect(table.evictedAtCapacity == 0)
    }

    @Test func keysOfSeveralSlotsShareTheCapacity() {
        var table = KeyTable(capacity: 2)
        #expect(spend(&table, "x", slot: 0))
        #expect(spend(&table, "x", slot: 3))
        #expect(spend(&table, "y", slot: 1))
        #expect(table.count == 2 && table.state(0, "x") == nil)
    }

    @Test func aBatchStoreCountsAsAnInsertion() {
        var table = KeyTable(capacity: 2)
        table.store(KeyState(high: 0, low: 1), slot: 0, key: "a")
        table.store(KeyState(high: 0, low: 1), slot: 0, key: "b")
        table.store(KeyState(high: 0, low: 2), slot: 0, key: "a")  // an update, not a new key
        #expect(table.count == 2)
        table.store(KeyState(high: 0, low: 1), slot: 0, key: "c")
        #expect(table.count == 2 && table.state(0, "b") == nil)
    }

    @Test func theStoreSplitsItsCapAcrossStripes() throws {
        let store = MemoryStore(maxKeys: 1_000)
        for i in 0..<50_000 { _ = store.decide(item("k\(i)"), now: 0, commit: true) }
        #expect(store.trackedKeys <= 1_000)
        #expect(store.trackedKeys > 900)
        #expect(store.evictedAtCapacity == 50_000 - store.trackedKeys)
    }
}
