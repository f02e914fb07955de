import NIOCore
import RateLimitCore

/// Why a protobuf message could not be read.
enum ProtoWireError: Error, Equatable {
    case truncated
    case malformed(String)
}

/// Reads protobuf's wire format (varints and length-delimited fields) from one message's bytes,
/// without allocating beyond the strings it returns. Unknown fields are skipped by wire type;
/// groups (wire types 3 and 4, long deprecated) are refused.
struct ProtoReader {
    private let bytes: UnsafeRawBufferPointer
    private var position: Int
    private let end: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
    }

    private init(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) {
        self.bytes = bytes
        self.position = start
        self.end = end
    }

    /// The next field's number and wire type; nil at the end of the message.
    mutating func nextField() throws(ProtoWireError) -> (number: UInt64, wireType: UInt8)? {
        guard position < end else { return nil }
        let tag = try varint()
        let number = tag >> 3
        guard number > 0, number <= 536_870_911 else { throw .malformed("field number \(number)") }
        return (number, UInt8(tag & 7))
    }

    mutating func varint() throws(ProtoWireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw .truncated }
            let byte = bytes[position]
            position += 1
            if shift == 63, byte > 1 { throw .malformed("a varint longer than 64 bits") }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// A length-delimited field's bytes, as a reader of their own.
    mutating func nested() throws(ProtoWireError) -> ProtoReader {
        let length = try varint()
        guard length <= UInt64(end - position) else { throw .truncated }
        let start = position
        position += Int(length)
        return ProtoReader(bytes, from: start, to: position)
    }

    /// A length-delimited field as UTF-8 text (proto3 strings must be valid UTF-8).
    mutating func string() throws(ProtoWireError) -> String {
        let field = try nested()
        guard let text = String(validatingUTF8: UnsafeRawBufferPointer(rebasing: field.bytes[field.position..<field.end])) else {
            throw .malformed("a string that is not UTF-8")
        }
        return text
    }

    /// Skips a field of `wireType`, for fields this reader does not need.
    mutating func skip(_ wireType: UInt8) throws(ProtoWireError) {
        switch wireType {
        case 0: _ = try varint()
        case 1: try advance(8)
        case 2: _ = try nested()
        case 5: try advance(4)
        default: throw .malformed("wire type \(wireType)")
        }
    }

    /// Throws unless `wireType` is `expected` (a field of a known number sent as another type).
    static func expect(_ wireType: UInt8, _ expected: UInt8) throws(ProtoWireError) {
        guard wireType == expected else { throw .malformed("wire type \(wireType) where \(expected) belongs") }
    }

    private mutating func advance(_ count: Int) throws(ProtoWireError) {
        guard end - position >= count else { throw .truncated }
        position += count
    }
}

/// Writes protobuf's wire format: the field writers, once, for both outputs below.
protocol ProtoOutput {
    mutating func writeVarint(_ value: UInt64)
    /// The text's UTF-8 bytes, without a length.
    mutating func writeUTF8(_ text: String)
}

extension ProtoOutput {
    mutating func writeTag(_ field: UInt64, _ wireType: UInt8) {
        writeVarint(field << 3 | UInt64(wireType))
    }

    /// A varint field, omitted when 0 (proto3's default).
    mutating func writeVarintField(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        writeTag(field, 0)
        writeVarint(value)
    }

    /// A string field, omitted when empty.
    mutating func writeStringField(_ field: UInt64, _ text: String) {
        guard !text.isEmpty else { return }
        writeTag(field, 2)
        writeVarint(UInt64(text.utf8.count))
        writeUTF8(text)
    }

    /// The header of an embedded message field of `size` bytes (the message follows).
    mutating func writeMessageHeader(_ field: UInt64, size: Int) {
        writeTag(field, 2)
        writeVarint(UInt64(size))
    }
}

/// Writes into memory sized up front with `ProtoSize`: the answers' path, one ByteBuffer access
/// per message instead of a capacity, uniqueness and exclusivity check per field. Every byte is
/// bounds-checked, so a miscomputed size traps instead of writing past the end.
struct ProtoWriter: ProtoOutput {
    private let out: UnsafeMutableRawBufferPointer
    /// Bytes written so far.
    private(set) var count = 0

    init(_ out: UnsafeMutableRawBufferPointer) {
        self.out = out
    }

    @inline(__always)
    mutating func writeByte(_ byte: UInt8) {
        precondition(count < out.count, "a protobuf message outgrew its computed size")
        out[count] = byte
        count += 1
    }

    /// gRPC's 5-byte message prefix: not compressed, then the message's length, big-endian.
    mutating func writeGRPCPrefix(length: Int) {
        writeByte(0)
        let length = UInt32(truncatingIfNeeded: length)
        for shift in stride(from: 24 as UInt32, through: 0, by: -8) { writeByte(UInt8(truncatingIfNeeded: length >> shift)) }
    }

    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeByte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        writeByte(UInt8(value))
    }

    mutating func writeUTF8(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            precondition(bytes.count <= out.count - count, "a protobuf message outgrew its computed size")
            UnsafeMutableRawBufferPointer(rebasing: out[count...]).copyMemory(from: UnsafeRawBufferPointer(bytes))
            count += bytes.count
        }
    }
}

/// Writes into a growing ByteBuffer, for messages of unknown size (tests build requests so).
extension ByteBuffer: ProtoOutput {
    mutating func writeVarint(_ value: UInt64) {
        writeWithUnsafeMutableBytes(minimumWritableBytes: 10) { out in
            var writer = ProtoWriter(out)
            writer.writeVarint(value)
            return writer.count
        }
    }

    mutating func writeUTF8(_ text: String) {
        writeString(text)
    }
}

extension ByteBufferAllocator {
    /// A buffer for one gRPC message of `size` bytes, its 5-byte prefix (not compressed, the
    /// length big-endian) already written: the message goes right after it.
    func grpcMessage(size: Int) -> ByteBuffer {
        var buffer = buffer(capacity: 5 + size)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 5) { out in
            var writer = ProtoWriter(out)
            writer.writeGRPCPrefix(length: size)
            return writer.count
        }
        return buffer
    }

    /// One gRPC message of `size` bytes (`ProtoSize`), prefix and all, written by `write` in
    /// one access to the buffer; traps unless `write` writes exactly `size` bytes.
    @inline(__always)
    func grpcMessage(size: Int, _ write: (inout ProtoWriter) -> Void) -> ByteBuffer {
        var buffer = buffer(capacity: 5 + size)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 5 + size) { out in
            var writer = ProtoWriter(out)
            writer.writeGRPCPrefix(length: size)
            write(&writer)
            precondition(writer.count == 5 + size, "a protobuf message's computed size was wrong")
            return writer.count
        }
        return buffer
    }
}

/// Encoded sizes, matching what `ByteBuffer`'s writers above produce (field numbers < 16).
enum ProtoSize {
    static func varint(_ value: UInt64) -> Int {
        var size = 1
        var value = value >> 7
        while value != 0 {
            size += 1
            value >>= 7
        }
        return size
    }

    static func varintField(_ value: UInt64) -> Int { value == 0 ? 0 : 1 + varint(value) }

    static func stringField(_ text: String) -> Int {
        let count = text.utf8.count
        return count == 0 ? 0 : 1 + varint(UInt64(count)) + count
    }

    static func messageField(_ size: Int) -> Int { 1 + varint(UInt64(size)) + size }
}
