import Synchronization

/// One item of a decision: which table (rule slot), which key, the limits and the cost.
public struct StoreItem: Sendable, Hashable {
    public var slot: Int
    public var key: String
    public var limits: Limits
    public var cost: Int64
    /// In a batch, a shadow item's denial does not deny the batch (it still consumes nothing).
    public var shadow: Bool
    /// FNV-1a of the key's bytes (picks the lock stripe).
    let keyHash: UInt64

    public init(slot: Int, key: String, limits: Limits, cost: Int64, shadow: Bool = false) {
        self.init(slot: slot, key: key, keyHash: KeyScan(key).hash, limits: limits, cost: cost, shadow: shadow)
    }

    init(slot: Int, key: String, keyHash: UInt64, limits: Limits, cost: Int64, shadow: Bool = false) {
        self.slot = slot
        self.key = key
        self.keyHash = keyHash
        self.limits = limits
        self.cost = cost
        self.shadow = shadow
    }
}

/// In-memory, lock-striped key state. O(1) per decision; no allocation for a key that has state.
///
/// Each rule has a `slot`; each stripe (a `KeyTable`) holds one table per slot. Keys whose state
/// is equivalent to a new key are removed by `sweep`, so memory follows active clients; with
/// `maxKeys`, each stripe also evicts its least recently used key at its share of the cap.
public final class MemoryStore: @unchecked Sendable {  // `stripes` is set in init only; each shard is behind its Mutex
    typealias Shard = KeyTable

    /// A key within a rule's table.
    struct SlotKey: Hashable {
        var slot: Int
        var key: ExactKey
    }

    /// The lock stripes, in one allocation: a `Mutex` cannot live in an array, and a class per
    /// stripe would cost a retain and a release on every decision.
    private let stripes: UnsafeMutablePointer<Mutex<Shard>>
    let shardCount: Int
    let shardMask: Int
    /// The cap on tracked keys (nil: none), split evenly across the stripes.
    public let maxKeys: Int?

    /// Creates a store with `shardCount` (rounded up to a power of two) lock stripes, holding at
    /// most `maxKeys` keys (at least one per stripe) when given.
    public init(shardCount: Int = 64, maxKeys: Int? = nil) {
        var n = 1
        while n < max(shardCount, 1) { n <<= 1 }
        stripes = .allocate(capacity: n)
        for i in 0..<n {
            let share = maxKeys.map { max(1, $0 / n + (i < $0 % n ? 1 : 0)) } ?? .max
            (stripes + i).initialize(to: Mutex(Shard(capacity: share)))
        }
        self.shardCount = n
        self.shardMask = n - 1
        self.maxKeys = maxKeys
    }

    deinit {
        stripes.deinitialize(count: shardCount)
        stripes.deallocate()
    }

    /// Runs `body` with stripe `index` locked.
    func withShard<T, E: Error>(_ index: Int, _ body: (inout Shard) throws(E) -> T) throws(E) -> T {
        try stripes[index].withLock { (shard: inout Shard) throws(E) -> T in try body(&shard) }
    }

    /// The lock stripe of a key: its FNV-1a hash mixed with the slot.
    func shardIndex(slot: Int, keyHash: UInt64) -> Int {
        var hash = keyHash ^ (UInt64(truncatingIfNeeded: slot) &* 0x9E37_79B9_7F4A_7C15)
        hash ^= hash >> 29
        return Int(truncatingIfNeeded: hash) & shardMask
    }

    func shardIndex(slot: Int, key: String) -> Int {
        shardIndex(slot: slot, keyHash: KeyScan(key).hash)
    }

    /// Decides one item; when allowed and `commit` is true, consumes its cost.
    public func decide(_ item: StoreItem, now: Nanoseconds, commit: Bool) -> Decision {
        withShard(shardIndex(slot: item.slot, keyHash: item.keyHash)) { shard in
            shard.decide(item, now: now, commit: commit)
        }
    }

    /// Decides several items atomically: all shards involved are locked (in index order), the
    /// items are evaluated in order (a repeated key sees the earlier items' consumption), and the
    /// new states are stored only if every item is allowed and `commit` is true.
    /// Returns the verdict and one decision per item; when the batch is denied, nothing is
    /// consumed and each decision is that item's own verdict against the unchanged state, with
    /// `remaining` and `resetAfter` describing that state as it is (issue 15).
    public func decideBatch(_ items: [StoreItem], now: Nanoseconds, commit: Bool) -> BatchDecision {
        let shardOf = items.map { shardIndex(slot: $0.slot, keyHash: $0.keyHash) }
        let order = Array(Set(shardOf)).sorted()
        var locked: [UnsafeMutablePointer<Shard>?] = Array(repeating: nil, count: shardCount)
        return withShardsLocked(order[...], &locked) { locked in
            var pending: [SlotKey: KeyState] = [:]
            var pendingLeases: [SlotKey: LeaseSet] = [:]
            var decisions: [Decision] = []
            decisions.reserveCapacity(items.count)
            var all = true
            for (i, item) in items.enumerated() {
                let shard = locked[shardOf[i]]!  // every shard in shardOf was locked above
                let probe = SlotKey(slot: item.slot, key: ExactKey(item.key))
                if item.limits.algorithm == .concurrency {
                    let (decision, next) = Algorithms.lease(
                        pendingLeases[probe] ?? shard.pointee.leases.set(probe, now: now), now: now, cost: item.cost, limits: item.limits)
                    all = all && (decision.allowed || item.shadow)
                    if decision.lease != nil { pendingLeases[probe] = next }
                    decisions.append(decision)
                    continue
                }
                let stored = pending[probe] ?? shard.pointee.state(item.slot, probe.key)
                let step = Algorithms.step(stored, now: now, cost: item.cost, limits: item.limits)
                all = all && (step.decision.allowed || item.shadow)
                if step.decision.allowed, item.cost > 0 { pending[probe] = step.next }
                decisions.append(step.decision)
            }
            if all {
                guard commit else { return BatchDecision(allowed: true, decisions: decisions.map { $0.withoutLease }) }
                for (i, item) in items.enumerated() {
                    let key = ExactKey(item.key)
                    if let next = pendingLeases.removeValue(forKey: SlotKey(slot: item.slot, key: key)) {
                        locked[shardOf[i]]!.pointee.storeLeases(next, slot: item.slot, key: key)
                    }
                    if let next = pending.removeValue(forKey: SlotKey(slot: item.slot, key: key)) {
                        locked[shardOf[i]]!.pointee.store(next, slot: item.slot, key: key)
                    }
                }
                return BatchDecision(allowed: true, decisions: decisions)
            }
            // Denied batch: answer each item against the unchanged state.
            let own = items.enumerated().map { i, item in
                let shard = locked[shardOf[i]]!.pointee
                let key = ExactKey(item.key)
                if item.limits.algorithm == .concurrency {
                    return Algorithms.unconsumedLease(
                        shard.leases.set(SlotKey(slot: item.slot, key: key), now: now), now: now, cost: item.cost, limits: item.limits)
                }
                return Algorithms.unconsumed(shard.state(item.slot, key), now: now, cost: item.cost, limits: item.limits)
            }
            return BatchDecision(allowed: false, decisions: own)
        }
    }

    private func withShardsLocked(
        _ order: ArraySlice<Int>, _ locked: inout [UnsafeMutablePointer<Shard>?],
        _ body: ([UnsafeMutablePointer<Shard>?]) -> BatchDecision
    ) -> BatchDecision {
        guard let first = order.first else { return body(locked) }
        return withShard(first) { shard in
            withUnsafeMutablePointer(to: &shard) { pointer in
                locked[first] = pointer
                return withShardsLocked(order.dropFirst(), &locked, body)
            }
        }
    }

    /// Frees lease `id` of `item`'s key (a concurrency rule); answers the key's leases after it.
    public func release(_ id: UInt64, _ item: StoreItem, now: Nanoseconds) throws(LeaseSet.ReleaseError) -> Decision {
        try withShard(shardIndex(slot: item.slot, keyHash: item.keyHash)) { (shard: inout Shard) throws(LeaseSet.ReleaseError) -> Decision in
            try shard.releaseLease(id, SlotKey(slot: item.slot, key: ExactKey(item.key)), limits: item.limits, now: now)
        }
    }

    /// The leases of `slot` held at `now` (`rate_limiter_leases_active`).
    public func leasesHeld(slot: Int, now: Nanoseconds) -> Int {
        (0..<shardCount).reduce(0) { sum, index in sum + withShard(index) { $0.leases.held(slot: slot, now: now) } }
    }

    /// Forgets one key's state (a concurrency rule's: all its leases).
    public func reset(slot: Int, key: String) {
        withShard(shardIndex(slot: slot, key: key)) { $0.remove(slot: slot, key: ExactKey(key)) }
    }

    /// Drops every key of `slot` (its rule was removed or changed).
    public func clear(slot: Int) {
        for index in 0..<shardCount {
            withShard(index) { $0.clear(slot: slot) }
        }
    }

    /// Removes every key whose state is equivalent to a new key. `limits(slot, key)` gives the
    /// limits a key is tracked under; nil drops the key. Returns how many keys were removed.
    @discardableResult
    public func sweep(now: Nanoseconds, limits: (Int, String) -> Limits?) -> Int {
        var removed = 0
        for index in 0..<shardCount {
            removed += withShard(index) { $0.removeIdle(now: now) { slot, key in limits(slot, key.string) } }
        }
        return removed
    }

    /// The most rule tables any stripe holds: bounded by the rules installed at once, however
    /// often rules change (slots are reused).
    public var slotCount: Int {
        (0..<shardCount).reduce(0) { most, index in max(most, withShard(index) { $0.tables.count }) }
    }

    /// How many keys of `slot` have live state.
    public func count(slot: Int) -> Int {
        (0..<shardCount).reduce(0) { sum, index in sum + withShard(index) { $0.count(slot: slot) } }
    }

    /// Every key's state as (slot, key, state), in no particular order across stripes.
    public func states() -> [(slot: Int, key: String, state: KeyState)] {
        (0..<shardCount).flatMap { index in withShard(index) { $0.allStates().map { ($0.slot, $0.key.string, $0.state) } } }
    }

    /// Sets one key's state (a restore), as a committed check would.
    /// `key`'s state in `slot`'s table, if it has any.
    public func state(slot: Int, key: String) -> KeyState? {
        withShard(shardIndex(slot: slot, key: key)) { $0.state(slot, ExactKey(key)) }
    }

    public func restore(slot: Int, key: String, state: KeyState) {
        withShard(shardIndex(slot: slot, key: key)) { $0.store(state, slot: slot, key: ExactKey(key)) }
    }

    /// Keys with live state, all rules.
    public var trackedKeys: Int {
        (0..<shardCount).reduce(0) { sum, index in sum + withShard(index) { $0.count + $0.leases.count } }
    }

    /// Keys evicted because their stripe was at its share of `maxKeys`, since the start.
    public var evictedAtCapacity: Int {
        (0..<shardCount).reduce(0) { sum, index in sum + withShard(index) { $0.evictedAtCapacity } }
    }
}
