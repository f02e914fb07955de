/// A key as the client sent it: compared and hashed by its UTF-8 bytes, never by Unicode
/// canonical equivalence (which Swift's `String` uses). "ñ" and "n\u{303}" are two keys, in
/// memory as in Redis, whose keys are bytes (red team 2, F14).
public struct ExactKey: Hashable, Sendable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible {
    public let string: String

    public init(_ string: String) {
        self.string = string
    }

    public init(stringLiteral value: String) {
        self.string = value
    }

    public var description: String { string }

    @inline(__always)
    public static func == (a: ExactKey, b: ExactKey) -> Bool {
        let (x, y) = (a.string.utf8, b.string.utf8)
        guard x.count == y.count else { return false }
        let same = x.withContiguousStorageIfAvailable { p in y.withContiguousStorageIfAvailable { q in bytesEqual(p, q) } }
        return (same ?? nil) ?? x.elementsEqual(y)
    }

    /// Equal-length buffers compared 8 bytes at a time (the generic `elementsEqual` took a
    /// fifth of a decision's instructions).
    @inline(__always)
    private static func bytesEqual(_ p: UnsafeBufferPointer<UInt8>, _ q: UnsafeBufferPointer<UInt8>) -> Bool {
        let (a, b) = (UnsafeRawBufferPointer(p), UnsafeRawBufferPointer(q))
        let n = a.count
        var i = 0
        while i + 8 <= n {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < n {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    public func hash(into hasher: inout Hasher) {
        let utf8 = string.utf8
        let done: Void? = utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { for byte in utf8 { hasher.combine(byte) } }
    }

    /// Byte order (what Redis and `sort` use), not Unicode order.
    public static func < (a: ExactKey, b: ExactKey) -> Bool {
        a.string.utf8.lexicographicallyPrecedes(b.string.utf8)
    }
}
