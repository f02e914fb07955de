import NIOCore
import RateLimitTestSupport
@testable import RateLimitGRPC
import SwiftProtobuf
import Testing

/// The hand-written Envoy codec against SwiftProtobuf's generated code: requests it encodes read
/// back field for field, responses are byte-identical, and bad bytes are errors, never crashes.
@Suite struct EnvoyWireTests {
    typealias Request = Envoy_Service_Ratelimit_V3_RateLimitRequest
    typealias Response = Envoy_Service_Ratelimit_V3_RateLimitResponse

    static func text(_ rng: inout SeededGenerator) -> String {
        let alphabet = Array("ab|/.:-_é漢😀 ")
        return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng) ?? "a" })
    }

    static func randomRequest(_ rng: inout SeededGenerator) -> Request {
        var request = Request()
        request.domain = text(&rng)
        request.hitsAddend = Bool.random(using: &rng) ? 0 : UInt32.random(in: 0...UInt32.max, using: &rng)
        request.descriptors = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
            var descriptor = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor()
            descriptor.entries = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                var entry = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor.Entry()
                entry.key = text(&rng)
                entry.value = text(&rng)
                return entry
            }
            if Bool.random(using: &rng) {
                descriptor.hitsAddend = Google_Protobuf_UInt64Value(UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng))
            }
            if Bool.random(using: &rng) {  // a field Sluice ignores: skipped
                descriptor.limit.requestsPerUnit = 7
                descriptor.limit.unit = .minute
            }
            return descriptor
        }
        return request
    }

    @Test func requestsReadBackFieldForField() throws {
        var rng = SeededGenerator(seed: 13)
        for _ in 0..<2_000 {
            let request = Self.randomRequest(&rng)
            let decoded = try EnvoyWire.decodeRequest(ByteBuffer(bytes: try request.serializedBytes() as [UInt8]))
            #expect(decoded.domain == request.domain && decoded.hitsAddend == request.hitsAddend)
            #expect(decoded.descriptors.map { Array(decoded.keys(of: $0)) } == request.descriptors.map { $0.entries.map(\.key) })
            #expect(decoded.descriptors.map { Array(decoded.values(of: $0)) } == request.descriptors.map { $0.entries.map(\.value) })
            #expect(decoded.descriptors.map(\.hitsAddend) == request.descriptors.map { $0.hasHitsAddend ? $0.hitsAddend.value : nil })
        }
    }

    @Test func responsesAreByteIdenticalToSwiftProtobufs() throws {
        var rng = SeededGenerator(seed: 29)
        for _ in 0..<2_000 {
            var expected = Response()
            var statuses: [EnvoyWire.Status] = []
            let overall: EnvoyWire.Code = Bool.random(using: &rng) ? .ok : .overLimit
            expected.overallCode = overall == .ok ? .ok : .overLimit
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                var status = Response.DescriptorStatus()
                let code: EnvoyWire.Code = Bool.random(using: &rng) ? .ok : .overLimit
                status.code = code == .ok ? .ok : .overLimit
                guard Bool.random(using: &rng) else {
                    statuses.append(EnvoyWire.Status(code: code))
                    expected.statuses.append(status)
                    continue
                }
                let limit = EnvoyWire.Limit(
                    name: Self.text(&rng), requestsPerUnit: UInt32.random(in: 0...UInt32.max, using: &rng) >> UInt32.random(in: 0...31, using: &rng),
                    unit: UInt64.random(in: 0...7, using: &rng), remaining: UInt32.random(in: 0...1000, using: &rng),
                    resetSeconds: Int64.random(in: 0...(1 << 40), using: &rng) >> Int64.random(in: 0...40, using: &rng),
                    resetNanos: Int32.random(in: 0...999_999_999, using: &rng))
                statuses.append(EnvoyWire.Status(code: code, limit: limit))
                status.currentLimit.name = limit.name
                status.currentLimit.requestsPerUnit = limit.requestsPerUnit
                status.currentLimit.unit = Response.RateLimit.Unit(rawValue: Int(limit.unit)) ?? .unknown
                status.limitRemaining = limit.remaining
                status.durationUntilReset = Google_Protobuf_Duration(seconds: limit.resetSeconds, nanos: limit.resetNanos)
                expected.statuses.append(status)
            }
            var framed = EnvoyWire.framedResponse(overall: overall, statuses: statuses, allocator: ByteBufferAllocator())
            #expect(framed.readInteger(as: UInt8.self) == 0)
            #expect(framed.readInteger(as: UInt32.self) == UInt32(framed.readableBytes))
            #expect(Array(framed.readableBytesView) == (try expected.serializedBytes() as [UInt8]))
        }
    }

    @Test(arguments: [
        ([0x0A, 0x05, 0x61], "truncated"),                       // domain says 5 bytes, has 1
        ([0x0A, 0x02, 0xC3, 0x28], "not UTF-8"),                 // an invalid UTF-8 sequence
        ([0x08, 0x01], "wire type 0 where 2 belongs"),            // domain as a varint
        ([0x18, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02], "longer than 64 bits"),
        ([0x13], "wire type 3"),                                 // a group
        ([0x00], "field number 0"),
        ([0x12, 0x03, 0x0A, 0x05, 0x00], "truncated"),           // an entry longer than its descriptor
    ] as [([UInt8], String)])
    func malformedRequestsAreErrors(bytes: [UInt8], says: String) {
        do {
            _ = try EnvoyWire.decodeRequest(ByteBuffer(bytes: bytes))
            Issue.record("decoded \(bytes)")
        } catch {
            switch error {
            case .truncated: #expect(says == "truncated")
            case .malformed(let message): #expect(message.contains(says), "\(message)")
            }
        }
    }

    @Test func randomBytesNeverCrashAndAgreeWithSwiftProtobufWhenBothRead() throws {
        var rng = SeededGenerator(seed: 41)
        for _ in 0..<20_000 {
            var bytes: [UInt8] = try Self.randomRequest(&rng).serializedBytes()
            for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            guard let mine = try? EnvoyWire.decodeRequest(ByteBuffer(bytes: bytes)), let theirs = try? Request(serializedBytes: bytes) else {
                continue
            }
            #expect(mine.domain == theirs.domain && Array(mine.values) == theirs.descriptors.flatMap { $0.entries.map(\.value) })
        }
    }
}

/// The positions the metrics index by follow `allCases`, so a new case cannot shift a series.
@Suite struct EndpointPositionTests {
    @Test func positionsFollowAllCases() {
        #expect(GRPCEndpoint.allCases.enumerated().allSatisfy { $0.offset == $0.element.position })
        #expect(UnmatchedDescriptor.allCases.enumerated().allSatisfy { $0.offset == $0.element.position })
    }
}
