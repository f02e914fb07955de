/// Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi 2005): at most `capacity` keys, each
/// with a count that over-counts by at most its `error`. Any key seen more than N / capacity
/// times (N: everything added) is tracked. Memory is fixed; an add costs one probe of a small
/// open-addressing table and O(log capacity) heap steps, and allocates only when the table is
/// first used.
public struct SpaceSaving: Sendable {
    /// A tracked key: its true count is in `count - error ... count`.
    public struct Entry: Sendable, Hashable {
        public var key: String
        public var count: Int64
        public var error: Int64

        public init(key: String, count: Int64, error: Int64) {
            self.key = key
            self.count = count
            self.error = error
        }
    }

    struct Counter {
        var hash: UInt64
        var entry: Entry
        /// Where this counter's index is in `table`.
        var tableSlot: Int
    }

    public let capacity: Int
    /// A min-heap on `entry.count`.
    private var heap: [Counter] = []
    /// Linear-probing index: heap positions by key hash, -1 when empty (twice the capacity).
    private var table: [Int32] = []

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// What a key that is not tracked may have been counted, at most.
    public var untrackedBound: Int64 { heap.count < capacity ? 0 : heap[0].entry.count }

    /// Counts `weight` for `key` (whose hash is `hash`).
    public mutating func add(_ key: String, hash: UInt64, weight: Int64 = 1) {
        guard capacity > 0 else { return }
        if table.isEmpty { table = [Int32](repeating: -1, count: Self.tableSize(capacity)) }
        if let slot = find(key, hash: hash) {
            let position = Int(table[slot])
            heap[position].entry.count &+= weight
            siftDown(position)
        } else if heap.count < capacity {
            heap.append(Counter(hash: hash, entry: Entry(key: key, count: weight, error: 0), tableSlot: -1))
            index(heap.count - 1)
            siftUp(heap.count - 1)
        } else {
            // Replace the smallest counter: the newcomer inherits its count as the error.
            unindex(heap[0].tableSlot)
            let floor = heap[0].entry.count
            heap[0] = Counter(hash: hash, entry: Entry(key: key, count: floor &+ weight, error: floor), tableSlot: -1)
            index(0)
            siftDown(0)
        }
    }

    /// The tracked keys, largest count first (ties by key).
    public var entries: [Entry] {
        heap.map(\.entry).sorted { ($0.count, $1.key) > ($1.count, $0.key) }
    }

    // MARK: the index

    private static func tableSize(_ capacity: Int) -> Int {
        var size = 4
        while size < capacity * 2 { size <<= 1 }
        return size
    }

    private func find(_ key: String, hash: UInt64) -> Int? {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while table[slot] >= 0 {
            let counter = heap[Int(table[slot])]
            if counter.hash == hash, counter.entry.key == key { return slot }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private mutating func index(_ position: Int) {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: heap[position].hash) & mask
        while table[slot] >= 0 { slot = (slot + 1) & mask }
        table[slot] = Int32(position)
        heap[position].tableSlot = slot
    }

    /// Empties `slot`, shifting later entries of the same probe run back (no tombstones).
    private mutating func unindex(_ slot: Int) {
        let mask = table.count - 1
        var hole = slot
        var next = (hole + 1) & mask
        table[hole] = -1
        while table[next] >= 0 {
            let position = Int(table[next])
            let home = Int(truncatingIfNeeded: heap[position].hash) & mask
            // Move the entry into the hole unless its home lies cyclically in (hole, next].
            let stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !stays {
                table[hole] = table[next]
                heap[position].tableSlot = hole
                table[next] = -1
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    // MARK: the heap

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        table[heap[a].tableSlot] = Int32(a)
        table[heap[b].tableSlot] = Int32(b)
    }

    private mutating func siftUp(_ position: Int) {
        var child = position
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].entry.count < heap[parent].entry.count else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ position: Int) {
        var parent = position
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            let smaller = right < heap.count && heap[right].entry.count < heap[left].entry.count ? right : left
            guard heap[smaller].entry.count < heap[parent].entry.count else { return }
            swapAt(parent, smaller)
            parent = smaller
        }
    }
}

/// One rule's heavy hitters over a sliding interval: requests and denials, each in the current
/// and the previous interval, so an answer covers between one and two intervals of traffic.
public struct TopKeys: Sendable {
    /// Which count ranks the keys.
    public enum Ranking: String, Sendable, CaseIterable {
        case requests
        case denied
    }

    /// A ranked key with its count over the covered time; the true count is in
    /// `count - error ... count`.
    public typealias Ranked = SpaceSaving.Entry

    /// The answer for one rule.
    public struct Report: Sendable, Hashable {
        public var keys: [Ranked]
        /// What any key not listed may have been counted, at most.
        public var untrackedBound: Int64
        /// The time the counts cover (one to two intervals).
        public var covering: Nanoseconds
    }

    public let interval: Nanoseconds
    private var current: (requests: SpaceSaving, denied: SpaceSaving)
    private var previous: (requests: SpaceSaving, denied: SpaceSaving)
    /// Start of the current interval (a multiple of `interval`); nil before the first add.
    private var start: Nanoseconds?

    public init(capacity: Int, interval: Nanoseconds) {
        self.interval = max(1, interval)
        current = (SpaceSaving(capacity: capacity), SpaceSaving(capacity: capacity))
        previous = current
    }

    /// Counts one decision of `key` at `now`.
    public mutating func add(_ key: String, hash: UInt64, denied: Bool, now: Nanoseconds) {
        rotate(now)
        current.requests.add(key, hash: hash)
        if denied { current.denied.add(key, hash: hash) }
    }

    /// The `n` heaviest keys by `ranking`, as of `now`.
    public mutating func report(by ranking: Ranking, n: Int, now: Nanoseconds) -> Report {
        rotate(now)
        let (recent, older) = ranking == .requests ? (current.requests, previous.requests) : (current.denied, previous.denied)
        // A key missing from one summary may have been counted there up to that summary's bound.
        var merged: [String: Ranked] = [:]
        for entry in recent.entries {
            merged[entry.key] = Ranked(key: entry.key, count: entry.count + older.untrackedBound, error: entry.error + older.untrackedBound)
        }
        for entry in older.entries {
            if var ranked = merged[entry.key] {
                ranked.count += entry.count - older.untrackedBound
                ranked.error += entry.error - older.untrackedBound
                merged[entry.key] = ranked
            } else {
                merged[entry.key] = Ranked(key: entry.key, count: entry.count + recent.untrackedBound, error: entry.error + recent.untrackedBound)
            }
        }
        let keys = merged.values.sorted { ($0.count, $1.key) > ($1.count, $0.key) }.prefix(max(0, n))
        let covering = start.map { now - $0 + interval } ?? 0
        return Report(keys: Array(keys), untrackedBound: recent.untrackedBound + older.untrackedBound, covering: min(covering, 2 * interval))
    }

    private mutating func rotate(_ now: Nanoseconds) {
        let aligned = now - now % interval
        guard let start else {
            self.start = aligned
            return
        }
        guard aligned > start else { return }
        let capacity = current.requests.capacity
        previous = aligned - start == interval ? current : (SpaceSaving(capacity: capacity), SpaceSaving(capacity: capacity))
        current = (SpaceSaving(capacity: capacity), SpaceSaving(capacity: capacity))
        self.start = aligned
    }
}
