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

    public static func == (a: ExactKey, b: ExactKey) -> Bool {
        let (x, y) = (a.string.utf8, b.string.utf8)
        guard x.count == y.count else { return false }
        let same = x.withContiguousStorageIfAvailable { p in y.withContiguousStorageIfAvailable { q in p.elementsEqual(q) } }
        return (same ?? nil) ?? x.elementsEqual(y)
    }

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
