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
