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
/// Each rule has a `slot`; each shard holds one table per slot. Keys whose state is equivalent
/// to a new key are removed by `sweep`, so memory follows active clients.
public final class MemoryStore: @unchecked Sendable {  // `stripes` is set in init only; each shard is behind its Mutex
    struct Shard: Sendable {
        var tables: [[ExactKey: KeyState]] = []
    }

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

    /// Creates a store with `shardCount` (rounded up to a power of two) lock stripes.
    public init(shardCount: Int = 64) {
        var n = 1
        while n < max(shardCount, 1) { n <<= 1 }
        stripes = .allocate(capacity: n)
        for i in 0..<n { (stripes + i).initialize(to: Mutex(Shard())) }
        self.shardCount = n
        self.shardMask = n - 1
    }

    deinit {
        stripes.deinitialize(count: shardCount)
        stripes.deallocate()
    }

    /// Runs `body` with stripe `index` locked.
    func withShard<T>(_ index: Int, _ body: (inout Shard) -> T) -> T {
        stripes[index].withLock { body(&$0) }
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
    /// consumed and each decision is that item's own answer against the unchanged state.
    public func decideBatch(_ items: [StoreItem], now: Nanoseconds, commit: Bool) -> BatchDecision {
        let shardOf = items.map { shardIndex(slot: $0.slot, keyHash: $0.keyHash) }
        let order = Array(Set(shardOf)).sorted()
        var locked: [UnsafeMutablePointer<Shard>?] = Array(repeating: nil, count: shardCount)
        return withShardsLocked(order[...], &locked) { locked in
            var pending: [SlotKey: KeyState] = [:]
            var decisions: [Decision] = []
            decisions.reserveCapacity(items.count)
            var all = true
            for (i, item) in items.enumerated() {
                let shard = locked[shardOf[i]]!  // every shard in shardOf was locked above
                let probe = SlotKey(slot: item.slot, key: ExactKey(item.key))
                let stored = pending[probe] ?? shard.pointee.tables.state(item.slot, item.key)
                let step = Algorithms.step(stored, now: now, cost: item.cost, limits: item.limits)
                all = all && (step.decision.allowed || item.shadow)
                if step.decision.allowed, item.cost > 0 { pending[probe] = step.next }
                decisions.append(step.decision)
            }
            if all {
                guard commit else { return BatchDecision(allowed: true, decisions: decisions) }
                for (i, item) in items.enumerated() {
                    if let next = pending.removeValue(forKey: SlotKey(slot: item.slot, key: ExactKey(item.key))) {
                        locked[shardOf[i]]!.pointee.store(next, slot: item.slot, key: item.key)
                    }
                }
                return BatchDecision(allowed: true, decisions: decisions)
            }
            // Denied batch: answer each item against the unchanged state.
            let own = items.enumerated().map { i, item in
                let stored = locked[shardOf[i]]!.pointee.tables.state(item.slot, item.key)
                return Algorithms.step(stored, now: now, cost: item.cost, limits: item.limits).decision
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

    /// Forgets one key's state.
    public func reset(slot: Int, key: String) {
        withShard(shardIndex(slot: slot, key: key)) { shard in
            if slot < shard.tables.count { shard.tables[slot].removeValue(forKey: ExactKey(key)) }
        }
    }

    /// Drops every key of `slot` (its rule was removed or changed).
    public func clear(slot: Int) {
        for index in 0..<shardCount {
            withShard(index) { shard in
                if slot < shard.tables.count { shard.tables[slot] = [:] }
            }
        }
    }

    /// Removes every key whose state is equivalent to a new key. `limits(slot, key)` gives the
    /// limits a key is tracked under; nil drops the key. Returns how many keys were removed.
    @discardableResult
    public func sweep(now: Nanoseconds, limits: (Int, String) -> Limits?) -> Int {
        var removed = 0
        for index in 0..<shardCount {
            withShard(index) { shard in
                for slot in shard.tables.indices where !shard.tables[slot].isEmpty {
                    removed += shard.tables[slot].removeIdle(now: now) { limits(slot, $0.string) }
                }
            }
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
        (0..<shardCount).reduce(0) { sum, index in
            sum + withShard(index) { slot < $0.tables.count ? $0.tables[slot].count : 0 }
        }
    }
}

extension MemoryStore.Shard {
    mutating func decide(_ item: StoreItem, now: Nanoseconds, commit: Bool) -> Decision {
        if item.slot >= tables.count {
            tables.append(contentsOf: repeatElement([:], count: item.slot + 1 - tables.count))
        }
        return tables[item.slot].decide(item, now: now, commit: commit)
    }

    mutating func store(_ state: KeyState, slot: Int, key: String) {
        if slot >= tables.count {
            tables.append(contentsOf: repeatElement([:], count: slot + 1 - tables.count))
        }
        tables[slot][ExactKey(key)] = state
    }
}

extension Dictionary where Key == ExactKey, Value == KeyState {
    /// Decides `item` against its key's state in this table, in place (one mutable access, so
    /// the table's storage is neither retained nor copied).
    mutating func decide(_ item: StoreItem, now: Nanoseconds, commit: Bool) -> Decision {
        let key = ExactKey(item.key)
        if let index = index(forKey: key) {
            let step = Algorithms.step(values[index], now: now, cost: item.cost, limits: item.limits)
            if commit, step.decision.allowed, item.cost > 0 { values[index] = step.next }
            return step.decision
        }
        let step = Algorithms.step(nil, now: now, cost: item.cost, limits: item.limits)
        if commit, step.decision.allowed, item.cost > 0 { self[key] = step.next }
        return step.decision
    }

    /// Removes the idle keys in place, so a steady load reuses the same storage (no allocation
    /// per sweep); the storage is compacted only once it is less than a quarter full.
    mutating func removeIdle(now: Nanoseconds, limits: (ExactKey) -> Limits?) -> Int {
        var idle: [ExactKey] = []
        for (key, state) in self {
            guard let l = limits(key) else { idle.append(key); continue }
            if Algorithms.isIdle(state, now: now, limits: l) { idle.append(key) }
        }
        for key in idle { removeValue(forKey: key) }
        if capacity > 1024, count < capacity / 4 {
            var compact = Self(minimumCapacity: count * 2)
            for (key, state) in self { compact[key] = state }
            self = compact
        }
        return idle.count
    }
}

extension Array where Element == [ExactKey: KeyState] {
    func state(_ slot: Int, _ key: String) -> KeyState? {
        slot < count ? self[slot][ExactKey(key)] : nil
    }
}
