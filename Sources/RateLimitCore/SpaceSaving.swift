/// Space-Saving heavy hitters (Metwally, Agrawal, El Abbadi 2005): at most `capacity` keys, each
/// with a count that over-counts by at most its `error`. Any key seen more than N / capacity
/// times (N: everything added) is tracked. Memory is fixed: the counters live in parallel arrays
/// (struct of arrays, so a probe or a heap step touches only the integers it compares), a
/// min-heap of counter ids orders them by count, and a linear-probing table finds a key's
/// counter by hash. An add costs one probe sequence and O(log capacity) heap steps on 32-bit
/// ids, and allocates only when the summary is first used (each interval, for `TopKeys`).
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

    public let capacity: Int
    // The counters, by id (0 ..< used).
    private var keys: [String] = []
    private var hashes: [UInt64] = []
    private var counts: [Int64] = []
    private var errors: [Int64] = []
    /// Where each counter's id sits in `heap`, and in `table`.
    private var heapPositions: [Int32] = []
    private var tableSlots: [Int32] = []
    /// A min-heap of counter ids on `counts`.
    private var heap: [Int32] = []
    /// Counter ids by key hash, -1 when empty (at least twice the capacity).
    private var table: [Int32] = []

    public init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    /// What a key that is not tracked may have been counted, at most.
    public var untrackedBound: Int64 { heap.count < capacity ? 0 : counts[Int(heap[0])] }

    /// Counts `weight` for `key` (whose hash is `hash`).
    public mutating func add(_ key: String, hash: UInt64, weight: Int64 = 1) {
        guard capacity > 0 else { return }
        if table.isEmpty { reserve() }
        if let id = find(key, hash: hash) {
            counts[id] &+= weight
            siftDown(Int(heapPositions[id]))
        } else if heap.count < capacity {
            let id = heap.count
            keys.append(key)
            hashes.append(hash)
            counts.append(weight)
            errors.append(0)
            heapPositions.append(Int32(id))
            tableSlots.append(-1)
            heap.append(Int32(id))
            index(id)
            siftUp(id)
        } else {
            // Replace the smallest counter: the newcomer inherits its count as the error.
            let id = Int(heap[0])
            unindex(Int(tableSlots[id]))
            let floor = counts[id]
            keys[id] = key
            hashes[id] = hash
            counts[id] = floor &+ weight
            errors[id] = floor
            index(id)
            siftDown(0)
        }
    }

    /// The tracked keys, largest count first (ties by key).
    public var entries: [Entry] {
        (0..<heap.count).map { Entry(key: keys[$0], count: counts[$0], error: errors[$0]) }
            .sorted { ($0.count, $1.key) > ($1.count, $0.key) }
    }

    private mutating func reserve() {
        var size = 4
        while size < capacity * 2 { size <<= 1 }
        table = [Int32](repeating: -1, count: size)
        keys.reserveCapacity(capacity)
        hashes.reserveCapacity(capacity)
        counts.reserveCapacity(capacity)
        errors.reserveCapacity(capacity)
        heapPositions.reserveCapacity(capacity)
        tableSlots.reserveCapacity(capacity)
        heap.reserveCapacity(capacity)
    }

    // MARK: the index

    private func find(_ key: String, hash: UInt64) -> Int? {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let id = Int(table[slot])
            if id < 0 { return nil }
            if hashes[id] == hash, keys[id] == key { return id }
            slot = (slot + 1) & mask
        }
    }

    private mutating func index(_ id: Int) {
        let mask = table.count - 1
        var slot = Int(truncatingIfNeeded: hashes[id]) & mask
        while table[slot] >= 0 { slot = (slot + 1) & mask }
        table[slot] = Int32(id)
        tableSlots[id] = Int32(slot)
    }

    /// Empties `slot`, shifting later entries of the same probe run back (no tombstones).
    private mutating func unindex(_ slot: Int) {
        let mask = table.count - 1
        var hole = slot
        var next = (hole + 1) & mask
        table[hole] = -1
        while table[next] >= 0 {
            let id = Int(table[next])
            let home = Int(truncatingIfNeeded: hashes[id]) & mask
            // Move the entry into the hole unless its home lies cyclically in (hole, next].
            let stays = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !stays {
                table[hole] = table[next]
                tableSlots[id] = Int32(hole)
                table[next] = -1
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    // MARK: the heap

    private mutating func place(_ id: Int32, at position: Int) {
        heap[position] = id
        heapPositions[Int(id)] = Int32(position)
    }

    private mutating func siftUp(_ position: Int) {
        let id = heap[position]
        let count = counts[Int(id)]
        var child = position
        while child > 0 {
            let parent = (child - 1) / 2
            guard count < counts[Int(heap[parent])] else { break }
            place(heap[parent], at: child)
            child = parent
        }
        place(id, at: child)
    }

    private mutating func siftDown(_ position: Int) {
        let id = heap[position]
        let count = counts[Int(id)]
        var parent = position
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            let right = left + 1
            var smaller = left
            if right < heap.count, counts[Int(heap[right])] < counts[Int(heap[left])] { smaller = right }
            guard counts[Int(heap[smaller])] < count else { break }
            place(heap[smaller], at: parent)
            parent = smaller
        }
        place(id, at: parent)
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
