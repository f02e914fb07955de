import NIOCore
import NIOEmbedded
import RateLimitConfig
import RateLimitCore
@testable import RateLimitGRPC
import Testing

/// `sluice.v1.RateLimiter/Report`, the gRPC twin of `POST /v1/report`, through the hand codec
/// (the committed SwiftProtobuf stubs predate the message, so the bytes are built here by field).
@Suite struct GRPCReportTests {
    /// A `ReportRequest` with one `ReportItem` per report, as protoc would encode it.
    static func request(_ reports: [ReportRequest]) -> ByteBuffer {
        var out = ByteBuffer()
        for r in reports {
            var item = ByteBuffer()
            item.writeStringField(1, r.rule)
            item.writeStringField(2, r.key)
            item.writeVarintField(3, UInt64(bitPattern: r.cost))
            if let id = r.id { item.writeStringField(4, id) }
            out.writeMessageHeader(1, size: item.readableBytes)
            out.writeBuffer(&item)
        }
        return out
    }

    /// The `ReportResult`s of a framed `ReportResponse`, each as its (field → value) varints.
    static func results(_ framed: ByteBuffer) throws -> [[UInt64: UInt64]] {
        var framed = framed
        framed.moveReaderIndex(forwardBy: 5)
        return try framed.withUnsafeReadableBytes { bytes throws(ProtoWireError) -> [[UInt64: UInt64]] in
            var reader = ProtoReader(bytes)
            var out: [[UInt64: UInt64]] = []
            while let (number, wireType) = try reader.nextField() {
                #expect(number == 1 && wireType == 2)
                var nested = try reader.nested()
                var fields: [UInt64: UInt64] = [:]
                while let (field, _) = try nested.nextField() { fields[field] = try nested.varint() }
                out.append(fields)
            }
            return out
        }
    }

    @Test func requestsReadBackAndAnEmptyIDIsNone() throws {
        let reports = [
            ReportRequest(rule: "per-ip", key: "k", cost: -7, id: "r-1"), ReportRequest(rule: "login", key: "ü", cost: 1_000_000_000),
        ]
        #expect(try SluiceWire.decodeReports(Self.request(reports)) == reports)
        var empty = ByteBuffer()
        empty.writeTag(4, 2)  // an id present but empty (writeStringField would omit it)
        empty.writeVarint(0)
        var message = ByteBuffer()
        message.writeMessageHeader(1, size: empty.readableBytes)
        message.writeBuffer(&empty)
        #expect(try SluiceWire.decodeReports(message) == [ReportRequest(rule: "", key: "", cost: 0, id: nil)])
    }

    @Test func aReportAnswersTheStateAfterItAndARetryIsADuplicate() throws {
        let limiter = RateLimiter(rules: try ConfigLoader.parse(yaml: grpcRulesYAML).rules, clock: ManualClock(now: 0))
        let service = GRPCService(pipeline: DecisionPipeline(limiter: limiter))
        let loop = EmbeddedEventLoop()
        let request = Self.request([ReportRequest(rule: "per-ip", key: "k", cost: 3, id: "r-1")])
        guard case .now(.message(let first)) = service.answer(.report, request, on: loop),
              case .now(.message(let retry)) = service.answer(.report, request, on: loop) else {
            Issue.record("memory answers now")
            return
        }
        // Token bucket 2 a minute, burst 2: 3 used leaves debt 1; a token every 30 s.
        #expect(try Self.results(first) == [[1: 2, 2: 60_000_000_000, 4: 90_000_000_000, 5: 60_000_000_000, 6: 1]])
        #expect(try Self.results(retry) == [[1: 2, 2: 60_000_000_000, 4: 90_000_000_000, 5: 60_000_000_000, 6: 1, 7: 1]])
        guard case .now(.failure(let status)) = service.answer(.report, Self.request([]), on: loop) else {
            Issue.record("an empty report is refused")
            return
        }
        #expect(status.code == .invalidArgument && status.message == "reports must not be empty")
        #expect(GRPCMethod(path: "/sluice.v1.RateLimiter/Report") == .report)
    }
}
