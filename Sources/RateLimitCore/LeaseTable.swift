/// One lock stripe's leases (`concurrency` rules): a `LeaseSet` per (slot, key), beside the
/// stripe's `KeyState`s and under the same lock, so a batch decides both atomically.
///
/// Ids: a key's new set starts above every id a dropped set of this stripe granted (`floor`),
/// and not below the clock in µs (so ids after a restart do not start at 1 again): a stale id
/// of a key that was reset, swept or whose rule changed never frees a new caller's lease.
struct LeaseTable: Sendable {
    private(set) var sets: [MemoryStore.SlotKey: LeaseSet] = [:]
    /// Above every id a dropped set granted.
    private(set) var floor: UInt64 = 1

    var count: Int { sets.count }

    func count(slot: Int) -> Int { sets.keys.reduce(0) { $0 + ($1.slot == slot ? 1 : 0) } }

    /// The leases of `slot` held at `now`.
    func held(slot: Int, now: Nanoseconds) -> Int {
        sets.reduce(0) { sum, entry in
            entry.key.slot == slot ? sum + entry.value.held.reduce(0) { $0 + ($1.expires > now ? 1 : 0) } : sum
        }
    }

    /// The key's set, or a new one seeded as above.
    func set(_ key: MemoryStore.SlotKey, now: Nanoseconds) -> LeaseSet {
        sets[key] ?? LeaseSet(firstID: max(floor, UInt64(max(now, 0) / 1000)))
    }

    /// Decides one check on a concurrency rule; stores the set when a lease is granted and
    /// `commit` is true (else the answer carries no lease). `added`: the key is new here.
    mutating func decide(_ item: StoreItem, now: Nanoseconds, commit: Bool) -> (decision: Decision, added: Bool) {
        let key = MemoryStore.SlotKey(slot: item.slot, key: ExactKey(item.key))
        var (decision, next) = Algorithms.lease(set(key, now: now), now: now, cost: item.cost, limits: item.limits)
        guard commit, decision.lease != nil else {
            decision.lease = nil
            return (decision, false)
        }
        return (decision, sets.updateValue(next, forKey: key) == nil)
    }

    /// Stores a key's set; true when the key is new here.
    mutating func store(_ set: LeaseSet, _ key: MemoryStore.SlotKey) -> Bool {
        sets.updateValue(set, forKey: key) == nil
    }

    /// Drops one key's set (not `sparing`'s) to keep the stripe within its cap: its leases are
    /// forgotten, as an evicted key's state is. False when there is none to drop.
    mutating func evictOne(sparing: MemoryStore.SlotKey?) -> Bool {
        guard let victim = sets.keys.first(where: { $0 != sparing }) else { return false }
        remove(victim)
        return true
    }

    /// Frees lease `id` of `key`; answers the key's leases after it (a peek). A key with no set
    /// (dropped) knows only that ids below `floor` were granted by some set of this stripe: those
    /// are `notHeld` (the likely case: a lease released after it expired and was swept).
    mutating func release(_ id: UInt64, _ key: MemoryStore.SlotKey, limits: Limits, now: Nanoseconds) throws(LeaseSet.ReleaseError) -> Decision {
        guard var set = sets[key] else { throw (1..<floor).contains(id) ? .notHeld(id) : .unknown(id) }
        try set.release(id, now: now)
        sets[key] = set
        return Algorithms.lease(set, now: now, cost: 0, limits: limits).decision
    }

    mutating func remove(_ key: MemoryStore.SlotKey) {
        if let set = sets.removeValue(forKey: key) { floor = max(floor, set.next) }
    }

    mutating func clear(slot: Int) {
        for key in sets.keys where key.slot == slot { remove(key) }
    }

    /// Drops the sets holding no lease at `now`, and those `keep` refuses (their rule is gone).
    mutating func removeIdle(now: Nanoseconds, keep: (Int, ExactKey) -> Bool) -> Int {
        let idle = sets.filter { !keep($0.key.slot, $0.key.key) || $0.value.isIdle(now: now) }.keys
        for key in idle { remove(key) }
        return idle.count
    }
}
