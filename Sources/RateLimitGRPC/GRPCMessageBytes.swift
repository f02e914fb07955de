public import NIOCore
public import SwiftProtobuf

/// A ByteBuffer as SwiftProtobuf's bag of bytes, so messages decode from the received buffer
/// without a copy and encode straight into the DATA frame's buffer, behind room for gRPC's
/// 5-byte message prefix (flag, big-endian length).
public struct GRPCMessageBytes: SwiftProtobufContiguousBytes {
    /// Bytes in front of the message (the prefix when encoding).
    let offset: Int
    public var buffer: ByteBuffer

    /// Wraps a received message (without its prefix).
    public init(_ buffer: ByteBuffer) {
        self.offset = 0
        self.buffer = buffer
    }

    /// SwiftProtobuf encodes into this: a fresh buffer that starts with the message prefix.
    public init(repeating: UInt8, count: Int) {
        offset = 5
        buffer = ByteBufferAllocator().grpcMessage(size: count)
        buffer.writeRepeatingByte(repeating, count: count)
    }

    public init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        offset = 0
        buffer = ByteBufferAllocator().buffer(capacity: 0)
        buffer.writeBytes(sequence)
    }

    public var count: Int { buffer.readableBytes - offset }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeReadableBytes { try body(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
    }

    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        let offset = self.offset
        return try buffer.withUnsafeMutableReadableBytes { try body(UnsafeMutableRawBufferPointer(rebasing: $0[offset...])) }
    }
}

extension SwiftProtobuf.Message {
    /// The message with its gRPC prefix, ready to be a DATA frame.
    public func grpcFramed() throws -> ByteBuffer {
        let bytes: GRPCMessageBytes = try serializedBytes()
        return bytes.buffer
    }

    /// Decodes a received message (its prefix already removed).
    public init(grpcMessage buffer: ByteBuffer) throws {
        try self.init(serializedBytes: GRPCMessageBytes(buffer))
    }
}
