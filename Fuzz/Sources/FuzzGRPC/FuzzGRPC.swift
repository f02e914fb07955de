// The gRPC methods' request messages, read by hand (`SluiceWire`, `EnvoyWire`: what any client
// on the gRPC socket sends), answered end to end by `GRPCService` on the memory store.
//
// Invariants beyond "no crash":
// - every method answers now (memory), with a message or a caller's error status
//   (INVALID_ARGUMENT or NOT_FOUND), never INTERNAL;
// - a message is one well-framed gRPC message: flag 0 and a length equal to the bytes after the
//   prefix (`ProtoWriter` traps if a size computed up front was wrong);
// - the message decodes with SwiftProtobuf's generated response type of its method;
// - where both this reader and SwiftProtobuf's generated code accept an Envoy request, they read
//   the same domain, entries and hits_addend (this reader also refuses groups, which
//   SwiftProtobuf skips).
import FuzzSupport
import NIOCore
import NIOEmbedded
import RateLimitConfig
import RateLimitCore
@testable import RateLimitGRPC

private let rules = """
    rules:
      - { name: api, algorithm: token_bucket, limit: 100, period: 1s, burst: 10, descriptors: [{ domain: edge, entries: [user] }] }
      - { name: login, algorithm: fixed_window, limit: 2, period: 1m, descriptors: [{ domain: edge, entries: [{ key: path, value: /login }, ip] }] }
      - { name: sliding, algorithm: sliding_window, limit: 5, period: 10s }
      - { name: jobs, algorithm: concurrency, limit: 2 }
      - { name: shadow, algorithm: leaky_bucket, limit: 1, period: 1s, shadow: true }
    """
// The rules above are a constant that loads; a failure here is a broken target, not an input.
private let service: GRPCService = {
    guard let configuration = try? ConfigLoader.parse(yaml: rules) else { fatalError("FuzzGRPC's rules do not load") }
    return GRPCService(pipeline: DecisionPipeline(limiter: RateLimiter(rules: configuration.rules, clock: ManualClock(now: 0))))
}()
private let loop = EmbeddedEventLoop()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let message = ByteBuffer(bytes: input(data, size))
    for method in GRPCMethod.allCases {
        guard case .now(let reply) = service.answer(method, message, on: loop) else {
            require(false, "\(method): a memory answer came later")
            continue
        }
        switch reply {
        case .failure(let status):
            require(status.code == .invalidArgument || status.code == .notFound, "\(method): refused with \(status.code): \(status.message)")
        case .message(let framed):
            checkFramed(framed, method)
        }
    }
    compareEnvoyReaders(message)
    return 0
}

private func checkFramed(_ framed: ByteBuffer, _ method: GRPCMethod) {
    var framed = framed
    require(framed.readInteger(as: UInt8.self) == 0, "\(method): the answer is flagged compressed")
    let length = framed.readInteger(as: UInt32.self).map(Int.init)
    require(length == framed.readableBytes, "\(method): prefix says \(String(describing: length)), \(framed.readableBytes) bytes follow")
    let decodes: Bool
    switch method {
    case .checkLimit: decodes = (try? Sluice_V1_CheckLimitResponse(grpcMessage: framed)) != nil
    case .getStatus: decodes = (try? Sluice_V1_GetStatusResponse(grpcMessage: framed)) != nil
    case .checkBatch: decodes = (try? Sluice_V1_CheckBatchResponse(grpcMessage: framed)) != nil
    case .shouldRateLimit: decodes = (try? Envoy_Service_Ratelimit_V3_RateLimitResponse(grpcMessage: framed)) != nil
    case .report: decodes = true  // no generated type for ReportResponse: SluiceWireTests checks its bytes
    }
    require(decodes, "\(method): SwiftProtobuf cannot read the answer")
}

private func compareEnvoyReaders(_ message: ByteBuffer) {
    guard let mine = try? EnvoyWire.decodeRequest(message),
          let theirs = try? Envoy_Service_Ratelimit_V3_RateLimitRequest(grpcMessage: message) else { return }
    require(mine.domain == theirs.domain, "domain \(mine.domain) vs \(theirs.domain)")
    require(mine.hitsAddend == theirs.hitsAddend, "hits_addend \(mine.hitsAddend) vs \(theirs.hitsAddend)")
    require(Array(mine.keys) == theirs.descriptors.flatMap { $0.entries.map(\.key) }, "entry keys differ")
    require(Array(mine.values) == theirs.descriptors.flatMap { $0.entries.map(\.value) }, "entry values differ")
    require(mine.descriptors.map(\.entries.count) == theirs.descriptors.map(\.entries.count), "descriptors differ")
}
