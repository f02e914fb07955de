import NIOCore
import RateLimitCore
import RateLimitTestSupport
@testable import RateLimitGRPC
import SwiftProtobuf
import Testing

/// The hand-written sluice.v1 codec against SwiftProtobuf's generated code.
@Suite struct SluiceWireTests {
    static func check(_ rng: inout SeededGenerator) -> Sluice_V1_CheckLimitRequest {
        var request = Sluice_V1_CheckLimitRequest()
        request.rule = EnvoyWireTests.text(&rng)
        request.key = EnvoyWireTests.text(&rng)
        if Bool.random(using: &rng) { request.cost = Int64.random(in: -5...1_000_000, using: &rng) }
        return request
    }

    static func decision(_ rng: inout SeededGenerator) -> Decision {
        func n() -> Int64 { Int64.random(in: 0...(1 << 50), using: &rng) >> Int64.random(in: 0...50, using: &rng) }
        return Decision(
            allowed: Bool.random(using: &rng), limit: n(), period: n(), remaining: n(), resetAfter: n(), retryAfter: n(), delay: n(),
            shadowDenied: Bool.random(using: &rng))
    }

    static func message(_ d: Decision) -> Sluice_V1_Decision {
        var m = Sluice_V1_Decision()
        m.allowed = d.allowed
        m.limit = d.limit
        m.periodNs = d.period
        m.remaining = d.remaining
        m.resetAfterNs = d.resetAfter
        m.retryAfterNs = d.retryAfter
        m.delayNs = d.delay
        m.shadowDenied = d.shadowDenied
        return m
    }

    static func unframed(_ framed: ByteBuffer) -> [UInt8] {
        var framed = framed
        #expect(framed.readInteger(as: UInt8.self) == 0)
        #expect(framed.readInteger(as: UInt32.self) == UInt32(framed.readableBytes))
        return Array(framed.readableBytesView)
    }

    @Test func requestsReadBack() throws {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<2_000 {
            let request = Self.check(&rng)
            let bytes = ByteBuffer(bytes: try request.serializedBytes() as [UInt8])
            let check = try SluiceWire.decodeCheck(bytes, costField: true)
            #expect(check == CheckRequest(rule: request.rule, key: request.key, cost: request.hasCost ? request.cost : 1))
            // The same bytes as a GetStatusRequest: field 3 is unknown there and skipped; cost 0.
            #expect(try SluiceWire.decodeCheck(bytes, costField: false) == CheckRequest(rule: request.rule, key: request.key, cost: 0))
            var batch = Sluice_V1_CheckBatchRequest()
            batch.checks = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Self.check(&rng) }
            let checks = try SluiceWire.decodeBatch(ByteBuffer(bytes: try batch.serializedBytes() as [UInt8]))
            #expect(checks.map(\.rule) == batch.checks.map(\.rule) && checks.map(\.cost) == batch.checks.map { $0.hasCost ? $0.cost : 1 })
        }
    }

    @Test func responsesAreByteIdenticalToSwiftProtobufs() throws {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<2_000 {
            let decision = Self.decision(&rng)
            var single = Sluice_V1_CheckLimitResponse()
            single.decision = Self.message(decision)
            #expect(Self.unframed(SluiceWire.framedDecision(decision, allocator: ByteBufferAllocator())) == (try single.serializedBytes() as [UInt8]))
            let decisions = (0..<Int.random(in: 0...3, using: &rng)).map { _ in Self.decision(&rng) }
            let batch = BatchDecision(allowed: Bool.random(using: &rng), decisions: decisions)
            var expected = Sluice_V1_CheckBatchResponse()
            expected.allowed = batch.allowed
            expected.decisions = decisions.map(Self.message)
            #expect(Self.unframed(SluiceWire.framedBatch(batch, allocator: ByteBufferAllocator())) == (try expected.serializedBytes() as [UInt8]))
        }
    }
}
