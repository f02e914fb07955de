import NIOCore
import RateLimitCore

/// `sluice.v1` on the wire, read and written by hand like `EnvoyWire`: requests straight into
/// checks, decisions straight into the DATA frame's buffer. Field numbers are those of
/// Protos/sluice/v1/ratelimit.proto; `SluiceWireTests` checks both directions against
/// SwiftProtobuf's generated code.
enum SluiceWire {
    /// `CheckLimitRequest` (an unset `cost` means 1) or, with `costField` false, `GetStatusRequest`
    /// (no cost: a status asks about now, cost 0).
    static func decodeCheck(_ message: ByteBuffer, costField: Bool) throws(ProtoWireError) -> CheckRequest {
        try message.withUnsafeReadableBytes { bytes throws(ProtoWireError) -> CheckRequest in
            var reader = ProtoReader(bytes)
            return try decodeCheck(&reader, costField: costField)
        }
    }

    /// `CheckBatchRequest`: its `checks`, in order.
    static func decodeBatch(_ message: ByteBuffer) throws(ProtoWireError) -> [CheckRequest] {
        try decodeRepeated(message) { (reader: inout ProtoReader) throws(ProtoWireError) in try decodeCheck(&reader, costField: true) }
    }

    /// The embedded messages of field 1 of `message` (a request's one repeated field), in order;
    /// other fields are skipped.
    private static func decodeRepeated<Item>(
        _ message: ByteBuffer, _ item: (inout ProtoReader) throws(ProtoWireError) -> Item
    ) throws(ProtoWireError) -> [Item] {
        try message.withUnsafeReadableBytes { bytes throws(ProtoWireError) -> [Item] in
            var reader = ProtoReader(bytes)
            var items: [Item] = []
            while let (number, wireType) = try reader.nextField() {
                guard number == 1 else {
                    try reader.skip(wireType)
                    continue
                }
                try ProtoReader.expect(wireType, 2)
                var nested = try reader.nested()
                items.append(try item(&nested))
            }
            return items
        }
    }

    private static func decodeCheck(_ reader: inout ProtoReader, costField: Bool) throws(ProtoWireError) -> CheckRequest {
        var check = CheckRequest(rule: "", key: "", cost: costField ? 1 : 0)
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try ProtoReader.expect(wireType, 2)
                check.rule = try reader.string()
            case 2:
                try ProtoReader.expect(wireType, 2)
                check.key = try reader.string()
            case 3 where costField:
                try ProtoReader.expect(wireType, 0)
                check.cost = Int64(bitPattern: try reader.varint())
            default:
                try reader.skip(wireType)
            }
        }
        return check
    }

    /// `ReportRequest`: its `reports`, in order (an empty `id` is none).
    static func decodeReports(_ message: ByteBuffer) throws(ProtoWireError) -> [ReportRequest] {
        try decodeRepeated(message) { (reader: inout ProtoReader) throws(ProtoWireError) -> ReportRequest in
            var report = ReportRequest(rule: "", key: "", cost: 0)
            while let (number, wireType) = try reader.nextField() {
                switch number {
                case 1:
                    try ProtoReader.expect(wireType, 2)
                    report.rule = try reader.string()
                case 2:
                    try ProtoReader.expect(wireType, 2)
                    report.key = try reader.string()
                case 3:
                    try ProtoReader.expect(wireType, 0)
                    report.cost = Int64(bitPattern: try reader.varint())
                case 4:
                    try ProtoReader.expect(wireType, 2)
                    let id = try reader.string()
                    report.id = id.isEmpty ? nil : id
                default:
                    try reader.skip(wireType)
                }
            }
            return report
        }
    }

    /// `ReportResponse`, framed.
    static func framedReports(_ reports: [Report], allocator: ByteBufferAllocator) -> ByteBuffer {
        let size = reports.reduce(0) { $0 + ProtoSize.messageField(reportSize($1)) }
        return allocator.grpcMessage(size: size) { writer in
            for r in reports {
                writer.writeMessageHeader(1, size: reportSize(r))
                for (field, value) in reportFields(r) { writer.writeVarintField(field, value) }
            }
        }
    }

    /// A `ReportResult`'s fields, in field order (all varints).
    static func reportFields(_ r: Report) -> [(UInt64, UInt64)] {
        [
            (1, UInt64(bitPattern: r.limit)), (2, UInt64(bitPattern: r.period)), (3, UInt64(bitPattern: r.remaining)),
            (4, UInt64(bitPattern: r.resetAfter)), (5, UInt64(bitPattern: r.retryAfter)), (6, UInt64(bitPattern: r.debt)),
            (7, r.duplicate ? 1 : 0),
        ]
    }

    static func reportSize(_ r: Report) -> Int {
        reportFields(r).reduce(0) { $0 + ProtoSize.varintField($1.1) }
    }

    /// `CheckLimitResponse` or `GetStatusResponse` (the same shape: field 1, the decision), framed.
    static func framedDecision(_ decision: Decision, allocator: ByteBufferAllocator) -> ByteBuffer {
        let size = ProtoSize.messageField(decisionSize(decision))
        return allocator.grpcMessage(size: size) { $0.writeDecision(1, decision) }
    }

    /// `CheckBatchResponse`, framed.
    static func framedBatch(_ batch: BatchDecision, allocator: ByteBufferAllocator) -> ByteBuffer {
        var size = ProtoSize.varintField(batch.allowed ? 1 : 0)
        for decision in batch.decisions { size += ProtoSize.messageField(decisionSize(decision)) }
        return allocator.grpcMessage(size: size) { writer in
            writer.writeVarintField(1, batch.allowed ? 1 : 0)
            for decision in batch.decisions { writer.writeDecision(2, decision) }
        }
    }

    static func decisionSize(_ d: Decision) -> Int {
        ProtoSize.varintField(d.allowed ? 1 : 0) + ProtoSize.varintField(UInt64(bitPattern: d.limit))
            + ProtoSize.varintField(UInt64(bitPattern: d.period)) + ProtoSize.varintField(UInt64(bitPattern: d.remaining))
            + ProtoSize.varintField(UInt64(bitPattern: d.resetAfter)) + ProtoSize.varintField(UInt64(bitPattern: d.retryAfter))
            + ProtoSize.varintField(UInt64(bitPattern: d.delay)) + ProtoSize.varintField(d.shadowDenied ? 1 : 0)
    }
}

extension ProtoOutput {
    /// A `sluice.v1.Decision` as embedded message field `field`.
    mutating func writeDecision(_ field: UInt64, _ d: Decision) {
        writeMessageHeader(field, size: SluiceWire.decisionSize(d))
        writeVarintField(1, d.allowed ? 1 : 0)
        writeVarintField(2, UInt64(bitPattern: d.limit))
        writeVarintField(3, UInt64(bitPattern: d.period))
        writeVarintField(4, UInt64(bitPattern: d.remaining))
        writeVarintField(5, UInt64(bitPattern: d.resetAfter))
        writeVarintField(6, UInt64(bitPattern: d.retryAfter))
        writeVarintField(7, UInt64(bitPattern: d.delay))
        writeVarintField(8, d.shadowDenied ? 1 : 0)
    }
}
