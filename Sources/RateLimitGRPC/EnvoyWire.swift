import NIOCore
import RateLimitCore

/// Envoy RLS v3 on the wire, read and written by hand: the fields `ShouldRateLimit` uses, with
/// no message objects in between (SwiftProtobuf's cost per call was most of the Envoy path's).
/// Field numbers are those of Protos/envoy; `EnvoyWireTests` checks both directions against
/// SwiftProtobuf's generated code.
enum EnvoyWire {
    /// `envoy.service.ratelimit.v3.RateLimitRequest`.
    struct Request: Equatable {
        var domain = ""
        /// One descriptor, the common request, is held without an array.
        var descriptors = SmallArray<Descriptor>()
        /// 0 means 1.
        var hitsAddend: UInt32 = 0
        /// Every descriptor's entries, one after another (two lists per request, not per
        /// descriptor; no array for a request of one entry).
        var keys = SmallArray<String>()
        var values = SmallArray<String>()

        func keys(of descriptor: Descriptor) -> Slice<SmallArray<String>> { keys[descriptor.entries] }
        func values(of descriptor: Descriptor) -> Slice<SmallArray<String>> { values[descriptor.entries] }
    }

    /// `envoy.extensions.common.ratelimit.v3.RateLimitDescriptor` (its `limit` override is ignored).
    struct Descriptor: Equatable {
        /// Its entries' positions in the request's `keys` and `values`.
        var entries: Range<Int>
        /// The descriptor's own `hits_addend` (a `UInt64Value`), when present.
        var hitsAddend: UInt64?
    }

    static func decodeRequest(_ message: ByteBuffer) throws(ProtoWireError) -> Request {
        try message.withUnsafeReadableBytes { bytes throws(ProtoWireError) -> Request in
            var reader = ProtoReader(bytes)
            var request = Request()
            while let (number, wireType) = try reader.nextField() {
                switch number {
                case 1:
                    try ProtoReader.expect(wireType, 2)
                    request.domain = try reader.string()
                case 2:
                    try ProtoReader.expect(wireType, 2)
                    var nested = try reader.nested()
                    request.descriptors.append(try decodeDescriptor(&nested, into: &request))
                case 3:
                    try ProtoReader.expect(wireType, 0)
                    request.hitsAddend = UInt32(truncatingIfNeeded: try reader.varint())
                default:
                    try reader.skip(wireType)
                }
            }
            return request
        }
    }

    private static func decodeDescriptor(_ reader: inout ProtoReader, into request: inout Request) throws(ProtoWireError) -> Descriptor {
        let first = request.keys.count
        var descriptor = Descriptor(entries: first..<first)
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try ProtoReader.expect(wireType, 2)
                var entry = try reader.nested()
                var key = ""
                var value = ""
                while let (field, type) = try entry.nextField() {
                    switch field {
                    case 1:
                        try ProtoReader.expect(type, 2)
                        key = try entry.string()
                    case 2:
                        try ProtoReader.expect(type, 2)
                        value = try entry.string()
                    default: try entry.skip(type)
                    }
                }
                request.keys.append(key)
                request.values.append(value)
            case 3:
                try ProtoReader.expect(wireType, 2)
                var wrapper = try reader.nested()
                var value: UInt64 = 0
                while let (field, type) = try wrapper.nextField() {
                    if field == 1, type == 0 { value = try wrapper.varint() } else { try wrapper.skip(type) }
                }
                descriptor.hitsAddend = value
            default:
                try reader.skip(wireType)
            }
        }
        descriptor.entries = first..<request.keys.count
        return descriptor
    }

    /// `RateLimitResponse.Code`.
    enum Code: UInt64 {
        case ok = 1
        case overLimit = 2
    }

    /// One `DescriptorStatus`: nil `limit` for a descriptor no rule limits (code only).
    struct Status {
        var code: Code
        var limit: Limit?
    }

    /// The limit part of a status: `current_limit`, `limit_remaining`, `duration_until_reset`.
    struct Limit {
        var name: String
        var requestsPerUnit: UInt32
        /// `RateLimitResponse.RateLimit.Unit`.
        var unit: UInt64
        var remaining: UInt32
        var resetSeconds: Int64
        var resetNanos: Int32
    }

    /// The framed response (gRPC's 5-byte prefix, then the message), in one buffer.
    static func framedResponse(overall: Code, statuses: some Collection<Status>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var size = ProtoSize.varintField(overall.rawValue)
        for status in statuses { size += ProtoSize.messageField(statusSize(status)) }
        return allocator.grpcMessage(size: size) { writer in
            writer.writeVarintField(1, overall.rawValue)
            for status in statuses {
                writer.writeMessageHeader(2, size: statusSize(status))
                writer.writeVarintField(1, status.code.rawValue)
                guard let limit = status.limit else { continue }
                writer.writeMessageHeader(2, size: rateLimitSize(limit))
                writer.writeVarintField(1, UInt64(limit.requestsPerUnit))
                writer.writeVarintField(2, limit.unit)
                writer.writeStringField(3, limit.name)
                writer.writeVarintField(3, UInt64(limit.remaining))
                writer.writeMessageHeader(4, size: durationSize(limit))
                writer.writeVarintField(1, UInt64(bitPattern: limit.resetSeconds))
                writer.writeVarintField(2, UInt64(bitPattern: Int64(limit.resetNanos)))
            }
        }
    }

    private static func statusSize(_ status: Status) -> Int {
        var size = ProtoSize.varintField(status.code.rawValue)
        guard let limit = status.limit else { return size }
        size += ProtoSize.messageField(rateLimitSize(limit))
        size += ProtoSize.varintField(UInt64(limit.remaining))
        size += ProtoSize.messageField(durationSize(limit))
        return size
    }

    private static func rateLimitSize(_ limit: Limit) -> Int {
        ProtoSize.varintField(UInt64(limit.requestsPerUnit)) + ProtoSize.varintField(limit.unit) + ProtoSize.stringField(limit.name)
    }

    private static func durationSize(_ limit: Limit) -> Int {
        ProtoSize.varintField(UInt64(bitPattern: limit.resetSeconds)) + ProtoSize.varintField(UInt64(bitPattern: Int64(limit.resetNanos)))
    }
}
