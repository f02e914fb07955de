/// The state kept per key: two integers, whose meaning depends on the algorithm.
///
/// - token and leaky bucket: the theoretical arrival time in units of 1/limit ns, as a 128-bit
///   integer split into `high` and `low` (exact: no rounding of `period / limit`).
/// - fixed window: `high` = window index, `low` = count.
/// - sliding window: `high` = window index, `low` = current count << 32 | previous count.
public struct KeyState: Sendable, Hashable {
    public var high: Int64
    public var low: Int64

    public init(high: Int64, low: Int64) {
        self.high = high
        self.low = low
    }

    init(wide value: Int128) {
        self.high = Int64(truncatingIfNeeded: value >> 64)
        self.low = Int64(truncatingIfNeeded: value)
    }

    var wide: Int128 {
        (Int128(high) << 64) | Int128(UInt64(bitPattern: low))
    }
}

/// Exact integer helpers for non-negative 128-bit quantities divided by a positive Int64.
enum Wide {
    /// ⌊a / b⌋ for a ≥ 0, b > 0, clamped to Int64.max; fast when `a` fits in 64 bits.
    static func floorDiv(_ a: Int128, _ b: Int64) -> Int64 {
        if a <= 0 { return 0 }
        if a <= Int128(Int64.max) { return Int64(truncatingIfNeeded: a) / b }
        let q = a / Int128(b)
        return q > Int128(Int64.max) ? Int64.max : Int64(truncatingIfNeeded: q)
    }

    /// ⌈a / b⌉ for b > 0, 0 when a ≤ 0, clamped to Int64.max.
    static func ceilDiv(_ a: Int128, _ b: Int64) -> Int64 {
        if a <= 0 { return 0 }
        if a <= Int128(Int64.max) {
            let x = Int64(truncatingIfNeeded: a)
            return x / b + (x % b == 0 ? 0 : 1)
        }
        let (q, r) = a.quotientAndRemainder(dividingBy: Int128(b))
        let c = q + (r == 0 ? 0 : 1)
        return c > Int128(Int64.max) ? Int64.max : Int64(truncatingIfNeeded: c)
    }
}

/// One pass over a key's UTF-8 bytes: its length, whether it has control characters, and an
/// FNV-1a hash (used to pick the key's lock stripe without a second pass).
struct KeyScan {
    var count = 0
    var hasControl = false
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325

    init(_ key: String) {
        let done: Void? = key.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes { add(byte) }
        }
        if done == nil {
            for byte in key.utf8 { add(byte) }
        }
    }

    private mutating func add(_ byte: UInt8) {
        count += 1
        hasControl = hasControl || byte < 32 || byte == 127
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
}
