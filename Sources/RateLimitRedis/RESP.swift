public import NIOCore

/// A RESP2/RESP3 value as Redis sends it.
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// nil for the null bulk string (`$-1`).
    case bulkString(ByteBuffer?)
    /// nil for the null array (`*-1`).
    case array([RESPValue]?)
    /// RESP3 `_`.
    case null
}

/// Writes commands as RESP arrays of bulk strings.
public enum RESPEncoder {
    /// One write of the whole command (its size counted first): a command is written for every
    /// check, and piecewise writes cost a capacity check and an exclusivity check per piece.
    public static func write(_ arguments: [String], into buffer: inout ByteBuffer) {
        var total = 3 + digits(arguments.count)
        for argument in arguments {
            let count = argument.utf8.count
            total += 5 + digits(count) + count
        }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            var at = header(UInt8(ascii: "*"), arguments.count, into: out, at: 0)
            for var argument in arguments {
                at = header(UInt8(ascii: "$"), argument.utf8.count, into: out, at: at)
                argument.withUTF8 { bytes in
                    if let source = bytes.baseAddress, let target = out.baseAddress {
                        (target + at).copyMemory(from: source, byteCount: bytes.count)
                    }
                    at += bytes.count
                }
                out[at] = 13
                out[at + 1] = 10
                at += 2
            }
            return at
        }
    }

    /// `TYPE` `n` CR LF at `at`; returns where it ends.
    private static func header(_ type: UInt8, _ n: Int, into out: UnsafeMutableRawBufferPointer, at start: Int) -> Int {
        out[start] = type
        let width = digits(n)
        var value = n
        for i in stride(from: start + width, to: start, by: -1) {
            out[i] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
        }
        out[start + width + 1] = 13
        out[start + width + 2] = 10
        return start + width + 3
    }

    /// Decimal digits of `n` ≥ 0.
    private static func digits(_ n: Int) -> Int {
        var (count, value) = (1, n)
        while value >= 10 {
            value /= 10
            count += 1
        }
        return count
    }
}

/// A small, pure RESP decoder (in the manner of valkey-swift's RESPTokenDecoder): `next` returns
/// one complete value and consumes its bytes, or nil (consuming nothing) until more bytes arrive.
public struct RESPDecoder: Sendable {
    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Deepest nesting and largest bulk string accepted: a bound on what a server can make us hold.
    public var maxDepth = 32
    public var maxBulkBytes = 64 * 1024 * 1024
    /// Longest array accepted.
    public var maxArrayCount = 1_000_000
    /// Longest simple line (type byte to CR) accepted, whichever way the bytes were split.
    public static let maxLineBytes = 64 * 1024

    public init(maxArrayCount: Int = 1_000_000) {
        self.maxArrayCount = maxArrayCount
    }

    public func next(_ buffer: inout ByteBuffer) throws(Failure) -> RESPValue? {
        var cursor = buffer
        guard let value = try parse(&cursor, depth: 0) else { return nil }
        buffer = cursor
        return value
    }

    private func parse(_ buffer: inout ByteBuffer, depth: Int) throws(Failure) -> RESPValue? {
        guard depth < maxDepth else { throw Failure(description: "RESP nested deeper than \(maxDepth)") }
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        // Refuse an unknown type byte before reading its line: a line that starts with CR has no
        // type byte to skip (found by Fuzz/FuzzRESP: "\r\n" trapped in readLine).
        switch type {
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "_"), UInt8(ascii: "$"), UInt8(ascii: "*"): break
        default: throw Failure(description: "unknown RESP type byte \(type)")
        }
        guard let (start, end) = try lineBounds(buffer) else { return nil }
        let view = buffer.readableBytesView
        buffer.moveReaderIndex(to: end + 2)
        // Numbers are parsed from the bytes: a reply is mostly numbers, and a String per line cost
        // more than the rest of the decoding.
        let isText = type == UInt8(ascii: "+") || type == UInt8(ascii: "-")
        let number = isText ? nil : Self.integer(view[(start + 1)..<end])
        let line = { String(decoding: view[(start + 1)..<end], as: UTF8.self) }
        switch type {
        case UInt8(ascii: "+"): return .simpleString(line())
        case UInt8(ascii: "-"): return .error(line())
        case UInt8(ascii: ":"):
            guard let n = number else { throw Failure(description: "bad RESP integer \(line())") }
            return .integer(n)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "$"):
            guard let length = number.map(Int.init), length >= -1, length <= maxBulkBytes else {
                throw Failure(description: "bad RESP bulk length \(line())")
            }
            if length == -1 { return .bulkString(nil) }
            guard buffer.readableBytes >= length + 2 else { return nil }
            let data = buffer.readSlice(length: length)
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw Failure(description: "bulk string without CRLF") }
            return .bulkString(data)
        case UInt8(ascii: "*"):
            guard let count = number.map(Int.init), count >= -1, count <= maxArrayCount else {
                throw Failure(description: "bad RESP array length \(line())")
            }
            if count == -1 { return .array(nil) }
            var items: [RESPValue] = []
            items.reserveCapacity(min(count, 1024))
            for _ in 0..<count {
                guard let item = try parse(&buffer, depth: depth + 1) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw Failure(description: "unknown RESP type byte \(type)")
        }
    }

    /// Where the line at the reader index ends: (its first byte, its CR), or nil until the CRLF
    /// has arrived.
    private func lineBounds(_ buffer: ByteBuffer) throws(Failure) -> (Int, Int)? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: 13) else {
            if view.count > Self.maxLineBytes { throw Failure(description: "RESP line too long") }
            return nil
        }
        // The same verdict when the CR has arrived: a line's length never depends on the reads.
        if cr - view.startIndex > Self.maxLineBytes { throw Failure(description: "RESP line too long") }
        guard cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == 10 else { throw Failure(description: "RESP line without CRLF") }
        return (view.startIndex, cr)
    }

    /// An optionally signed decimal that fits Int64, as `Int64(String)` reads it; else nil.
    static func integer(_ bytes: ByteBufferView.SubSequence) -> Int64? {
        var digits = bytes[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty else { return nil }
        var value: Int64 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            value = next
        }
        return value
    }
}
