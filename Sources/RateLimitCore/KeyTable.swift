/// One lock stripe's keys: a table per rule slot, and the clock that bounds them.
///
/// Bounded memory (issue 16): at `capacity` keys, inserting a new key first evicts the least
/// recently used one, approximated by CLOCK ("second chance"): keys wait in a queue in the order
/// they were inserted; the eviction takes the oldest, but one used since it was queued goes to
/// the back instead (at most `secondChances` times per eviction, so an eviction is O(1)). An
/// evicted key starts fresh when it returns, as a new key would: the safe direction for a limiter.
/// A decision on a key that has state touches nothing but its own table entry: no allocation.
struct KeyTable: Sendable {
    struct Tracked: Sendable {
        var state: KeyState
        /// `sequence` when the key was last decided.
        var touched: UInt64
    }

    struct Queued: Sendable {
        var slot: Int
        var key: ExactKey
        /// `sequence` when this entry was queued; the key was used since when `touched` is later.
        var queued: UInt64
    }

    static let secondChances = 8

    var tables: [[ExactKey: Tracked]] = []
    /// The keys of `concurrency` rules, within `capacity` too: at the cap an ordinary key is
    /// evicted first, and a concurrency key (its leases forgotten) only when none is left.
    private(set) var leases = LeaseTable()
    /// Most keys this stripe holds (`Int.max`: no cap, and no queue is kept).
    let capacity: Int
    private(set) var count = 0
    private(set) var evictedAtCapacity = 0
    private var queue: [Queued] = []
    private var head = 0
    private var sequence: UInt64 = 0

    init(capacity: Int = .max) {
        self.capacity = capacity
    }

    private var bounded: Bool { capacity != .max }

    func state(_ slot: Int, _ key: ExactKey) -> KeyState? {
        slot < tables.count ? tables[slot][key]?.state : nil
    }

    func count(slot: Int) -> Int { (slot < tables.count ? tables[slot].count : 0) + leases.count(slot: slot) }

    /// Every key's state, least recently used first (so a restore into a smaller cap keeps the
    /// most recent).
    func allStates() -> [(slot: Int, key: ExactKey, state: KeyState, touched: UInt64)] {
        var out: [(slot: Int, key: ExactKey, state: KeyState, touched: UInt64)] = []
        out.reserveCapacity(count)
        for slot in tables.indices {
            for (key, tracked) in tables[slot] { out.append((slot, key, tracked.state, tracked.touched)) }
        }
        return out.sorted { $0.touched < $1.touched }
    }

    /// Decides one item in place; a new key that consumes gets an entry (evicting at the cap).
    @inline(__always)
    mutating func decide(_ item: StoreItem, now: Nanoseconds, commit: Bool) -> Decision {
        if item.limits.algorithm == .concurrency {
            let (decision, added) = leases.decide(item, now: now, commit: commit)
            if added, held > capacity { makeRoom(sparing: MemoryStore.SlotKey(slot: item.slot, key: ExactKey(item.key))) }
            return decision
        }
        let key = ExactKey(item.key)
        sequence &+= 1
        if item.slot < tables.count, let decision = tables[item.slot].decideExisting(key, item, now: now, commit: commit, touch: sequence) {
            return decision
        }
        let step = Algorithms.step(nil, now: now, cost: item.cost, limits: item.limits)
        if commit, step.decision.allowed, item.cost > 0 { insert(step.next, slot: item.slot, key: key) }
        return step.decision
    }

    /// Sets a concurrency key's leases (a committed batch), inserting it when new.
    mutating func storeLeases(_ set: LeaseSet, slot: Int, key: ExactKey) {
        let slotKey = MemoryStore.SlotKey(slot: slot, key: key)
        if leases.store(set, slotKey), held > capacity { makeRoom(sparing: slotKey) }
    }

    /// Frees a concurrency key's lease (see `LeaseTable.release`).
    mutating func releaseLease(_ id: UInt64, _ key: MemoryStore.SlotKey, limits: Limits, now: Nanoseconds) throws(LeaseSet.ReleaseError) -> Decision {
        try leases.release(id, key, limits: limits, now: now)
    }

    /// Sets a key's state (a committed batch), inserting it when new.
    mutating func store(_ state: KeyState, slot: Int, key: ExactKey) {
        sequence &+= 1
        if slot < tables.count, let index = tables[slot].index(forKey: key) {
            tables[slot].values[index] = Tracked(state: state, touched: sequence)
        } else {
            insert(state, slot: slot, key: key)
        }
    }

    mutating func remove(slot: Int, key: ExactKey) {
        if slot < tables.count, tables[slot].removeValue(forKey: key) != nil { count -= 1 }
        leases.remove(MemoryStore.SlotKey(slot: slot, key: key))
    }

    mutating func clear(slot: Int) {
        leases.clear(slot: slot)
        guard slot < tables.count else { return }
        count -= tables[slot].count
        tables[slot] = [:]
        compactIfStale()
    }

    /// Removes every key whose state equals a new key's; `limits(slot, key)` nil drops the key.
    mutating func removeIdle(now: Nanoseconds, limits: (Int, ExactKey) -> Limits?) -> Int {
        var removed = 0
        for slot in tables.indices where !tables[slot].isEmpty {
            removed += tables[slot].removeIdle(now: now) { limits(slot, $0) }
        }
        count -= removed
        compactIfStale()
        return removed + leases.removeIdle(now: now) { limits($0, $1) != nil }
    }

    private mutating func insert(_ state: KeyState, slot: Int, key: ExactKey) {
        if slot >= tables.count { tables.append(contentsOf: repeatElement([:], count: slot + 1 - tables.count)) }
        if held >= capacity { makeRoom(sparing: nil) }
        sequence &+= 1
        tables[slot][key] = Tracked(state: state, touched: sequence)
        count += 1
        guard bounded else { return }
        queue.append(Queued(slot: slot, key: key, queued: sequence))
        compactIfStale()
    }

    /// Keys held, ordinary and concurrency: what `capacity` bounds.
    var held: Int { count + leases.count }

    /// Frees one place at the cap: the least recently used ordinary key or, when none is left,
    /// one concurrency key other than `sparing` (the one being added).
    private mutating func makeRoom(sparing: MemoryStore.SlotKey?) {
        if count > 0 {
            evictOne()
        } else if leases.evictOne(sparing: sparing) {
            evictedAtCapacity += 1
        }
    }

    /// Evicts the least recently used key (by CLOCK). Entries of keys already gone (swept,
    /// reset, their rule removed) are skipped.
    private mutating func evictOne() {
        var chances = 0
        for _ in 0..<2 {
            while head < queue.count {
                let entry = queue[head]
                // Let go of the key now: a consumed entry must not keep an evicted key's string
                // alive until the queue is trimmed (that held up to a cap's worth of dead keys).
                queue[head].key = ExactKey("")
                head += 1
                guard entry.slot < tables.count, let index = tables[entry.slot].index(forKey: entry.key) else { continue }
                if tables[entry.slot].values[index].touched > entry.queued, chances < Self.secondChances {
                    chances += 1
                    sequence &+= 1
                    queue.append(Queued(slot: entry.slot, key: entry.key, queued: sequence))
                    continue
                }
                tables[entry.slot].remove(at: index)
                count -= 1
                evictedAtCapacity += 1
                if head >= 1024, head * 2 >= queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                return
            }
            rebuildQueue()  // every entry was stale: start again from the tables
        }
    }

    /// Rebuilds the queue from the tables (least recently used first) once stale entries
    /// outnumber live ones: amortised O(1) per insertion, and bounded memory after big sweeps.
    private mutating func compactIfStale() {
        if bounded, queue.count - head > 2 * count + 4096 { rebuildQueue() }
    }

    private mutating func rebuildQueue() {
        var fresh: [Queued] = []
        fresh.reserveCapacity(count)
        for slot in tables.indices {
            for (key, tracked) in tables[slot] { fresh.append(Queued(slot: slot, key: key, queued: tracked.touched)) }
        }
        fresh.sort { $0.queued < $1.queued }
        queue = fresh
        head = 0
    }
}

extension Dictionary where Key == ExactKey, Value == KeyTable.Tracked {
    /// Decides `item` against its key's state in this table, in place (one mutable access, so
    /// the table's storage is neither retained nor copied); nil when the key has no state here.
    @inline(__always)
    mutating func decideExisting(_ key: ExactKey, _ item: StoreItem, now: Nanoseconds, commit: Bool, touch: UInt64) -> Decision? {
        guard let index = index(forKey: key) else { return nil }
        let step = Algorithms.step(values[index].state, now: now, cost: item.cost, limits: item.limits)
        if commit, step.decision.allowed, item.cost > 0 {
            values[index] = KeyTable.Tracked(state: step.next, touched: touch)
        } else {
            values[index].touched = touch
        }
        return step.decision
    }

    /// Removes the idle keys in place, so a steady load reuses the same storage (no allocation
    /// per sweep); the storage is compacted only once it is less than a quarter full.
    mutating func removeIdle(now: Nanoseconds, limits: (ExactKey) -> Limits?) -> Int {
        var idle: [ExactKey] = []
        for (key, tracked) in self {
            guard let l = limits(key) else { idle.append(key); continue }
            if Algorithms.isIdle(tracked.state, now: now, limits: l) { idle.append(key) }
        }
        for key in idle { removeValue(forKey: key) }
        if capacity > 1024, count < capacity / 4 {
            var compact = Self(minimumCapacity: count * 2)
            for (key, tracked) in self { compact[key] = tracked }
            self = compact
        }
        return idle.count
    }
}
