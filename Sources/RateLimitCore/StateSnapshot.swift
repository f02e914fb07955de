/// The memory backend's key states as bytes, for `--state-file`: written at shutdown, read at
/// start, so counters survive a sidecar restart (issue 18). States are timestamps and counts on
/// the clock's epoch (Unix time), so a restore after a gap is exact.
///
/// Format (little endian): "SLUICEST" · version u16 · entries u64 · per entry: rule name (u16
/// length + UTF-8) · algorithm u8 · limit i64 · period i64 · burst i64 · key (u16 length +
/// UTF-8) · high i64 · low i64 — then an FNV-1a 64 of everything before it. Each entry carries
/// the limits its state was measured under: it is restored only where the key's limits are
/// still the same (a changed rule or override starts fresh).
public struct StateSnapshot: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var rule: String
        public var limits: Limits
        public var key: String
        public var state: KeyState

        public init(rule: String, limits: Limits, key: String, state: KeyState) {
            self.rule = rule
            self.limits = limits
            self.key = key
            self.state = state
        }
    }

    /// Why bytes are not a snapshot (a corrupt, truncated or foreign file).
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public static let magic = Array("SLUICEST".utf8)
    public static let version: UInt16 = 1

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    public func encoded() -> [UInt8] {
        var out = Self.magic
        out.reserveCapacity(16 + entries.count * 64)
        Self.put(Self.version, &out)
        Self.put(UInt64(entries.count), &out)
        for e in entries {
            Self.put(e.rule, &out)
            out.append(UInt8(e.limits.algorithm.code))
            Self.put(UInt64(bitPattern: e.limits.limit), &out)
            Self.put(UInt64(bitPattern: e.limits.period), &out)
            Self.put(UInt64(bitPattern: e.limits.burst), &out)
            Self.put(e.key, &out)
            Self.put(UInt64(bitPattern: e.state.high), &out)
            Self.put(UInt64(bitPattern: e.state.low), &out)
        }
        Self.put(Self.fnv(out[...]), &out)
        return out
    }

    public init(decoding bytes: [UInt8]) throws(Malformed) {
        guard bytes.count >= Self.magic.count + 2 + 8 + 8, bytes.starts(with: Self.magic) else {
            throw Malformed(description: "not a Sluice state file")
        }
        var reader = Reader(bytes: bytes[..<(bytes.count - 8)], at: Self.magic.count)
        var sum = Reader(bytes: bytes[...], at: bytes.count - 8)
        guard try sum.u64() == Self.fnv(bytes[..<(bytes.count - 8)]) else { throw Malformed(description: "checksum mismatch (truncated or corrupt)") }
        guard try reader.u16() == Self.version else { throw Malformed(description: "unknown state file version") }
        let count = try reader.u64()
        guard count <= UInt64(bytes.count / 40) else { throw Malformed(description: "entry count \(count) does not fit the file") }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        for _ in 0..<count {
            let rule = try reader.string()
            guard let algorithm = Algorithm(code: try reader.u8()) else { throw Malformed(description: "unknown algorithm") }
            let limit = Int64(bitPattern: try reader.u64())
            let period = Int64(bitPattern: try reader.u64())
            let burst = Int64(bitPattern: try reader.u64())
            let windows = algorithm == .fixedWindow || algorithm == .slidingWindow  // their burst is their limit
            guard let limits = try? Limits(algorithm: algorithm, limit: limit, period: period, burst: windows ? nil : burst),
                  limits.burst == burst else {
                throw Malformed(description: "limits out of range")
            }
            let key = try reader.string()
            let state = KeyState(high: Int64(bitPattern: try reader.u64()), low: Int64(bitPattern: try reader.u64()))
            entries.append(Entry(rule: rule, limits: limits, key: key, state: state))
        }
        guard reader.at == reader.bytes.endIndex else { throw Malformed(description: "trailing bytes") }
        self.entries = entries
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var at: Int

        mutating func take(_ n: Int) throws(Malformed) -> ArraySlice<UInt8> {
            guard n >= 0, at + n <= bytes.endIndex else { throw Malformed(description: "truncated") }
            defer { at += n }
            return bytes[at..<(at + n)]
        }

        mutating func u8() throws(Malformed) -> UInt8 { try take(1).first ?? 0 }
        mutating func u16() throws(Malformed) -> UInt16 { UInt16(truncatingIfNeeded: try little(2)) }
        mutating func u64() throws(Malformed) -> UInt64 { try little(8) }

        private mutating func little(_ n: Int) throws(Malformed) -> UInt64 {
            try take(n).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func string() throws(Malformed) -> String {
            let length = Int(try u16())
            guard let s = String(validating: try take(length), as: UTF8.self) else { throw Malformed(description: "invalid UTF-8") }
            return s
        }
    }

    private static func put(_ value: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value))
        out.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    private static func put(_ value: UInt64, _ out: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    private static func put(_ text: String, _ out: inout [UInt8]) {
        let bytes = Array(text.utf8.prefix(Int(UInt16.max)))
        put(UInt16(bytes.count), &out)
        out.append(contentsOf: bytes)
    }

    private static func fnv(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

extension Algorithm {
    /// A stable number (never the declaration order): in state files, and in the Redis scripts'
    /// arguments and key names.
    public var code: Int {
        switch self {
        case .tokenBucket: 1
        case .slidingWindow: 2
        case .fixedWindow: 3
        case .leakyBucket: 4
        case .concurrency: 5
        }
    }

    init?(code: UInt8) {
        guard let found = Algorithm.allCases.first(where: { $0.code == Int(code) }) else { return nil }
        self = found
    }
}
