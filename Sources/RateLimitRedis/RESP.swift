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
    public static func write(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            buffer.writeInteger(UInt8(ascii: "$"))
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
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
        guard let line = try readLine(&buffer, skippingType: true) else { return nil }
        switch type {
        case UInt8(ascii: "+"): return .simpleString(line)
        case UInt8(ascii: "-"): return .error(line)
        case UInt8(ascii: ":"):
            guard let n = Int64(line) else { throw Failure(description: "bad RESP integer \(line)") }
            return .integer(n)
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "$"):
            guard let length = Int(line), length >= -1, length <= maxBulkBytes else {
                throw Failure(description: "bad RESP bulk length \(line)")
            }
            if length == -1 { return .bulkString(nil) }
            guard buffer.readableBytes >= length + 2 else { return nil }
            let data = buffer.readSlice(length: length)
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw Failure(description: "bulk string without CRLF") }
            return .bulkString(data)
        case UInt8(ascii: "*"):
            guard let count = Int(line), count >= -1, count <= maxArrayCount else {
                throw Failure(description: "bad RESP array length \(line)")
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

    private func readLine(_ buffer: inout ByteBuffer, skippingType: Bool) throws(Failure) -> String? {
        let view = buffer.readableBytesView
        guard let cr = view.firstIndex(of: 13) else {
            if view.count > Self.maxLineBytes { throw Failure(description: "RESP line too long") }
            return nil
        }
        // The same verdict when the CR has arrived: a line's length never depends on the reads.
        if cr - view.startIndex > Self.maxLineBytes { throw Failure(description: "RESP line too long") }
        guard cr + 1 < view.endIndex else { return nil }
        guard view[cr + 1] == 10 else { throw Failure(description: "RESP line without CRLF") }
        let start = view.startIndex + (skippingType ? 1 : 0)
        let line = String(decoding: view[start..<cr], as: UTF8.self)
        buffer.moveReaderIndex(to: cr + 2)
        return line
    }
}
