import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import NIOCore
import NIOPosix
import RateLimitConfig
import RateLimitCore
import RateLimitGRPC

/// Rules for the gRPC tests: YAML as a user writes it, with Envoy descriptors.
let grpcRulesYAML = """
    rules:
      - name: per-ip
        algorithm: token_bucket
        limit: 2
        period: 1m
        descriptors:
          - domain: edge
            entries: [remote_address]
      - name: login
        algorithm: fixed_window
        limit: 1
        period: 1h
        descriptors:
          - domain: edge
            entries: [{ key: path, value: /login }, user]
      - name: any-path
        algorithm: fixed_window
        limit: 100
        period: 1s
        descriptors:
          - domain: edge
            entries: [path, user]
      - name: trial
        algorithm: token_bucket
        limit: 1
        period: 1h
        shadow: true
        descriptors:
          - domain: trial
            entries: [plan]
    """

/// A limiter on a manual clock, served by Sluice's gRPC server on a fresh Unix socket for the
/// duration of `body`, with a grpc-swift client connected to it.
func withGRPCSluice<Result: Sendable>(
    _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, RateLimiter, ManualClock) async throws -> Result
) async throws -> Result {
    let clock = ManualClock(now: .seconds(1_000_000))
    let rules = try ConfigLoader.parse(yaml: grpcRulesYAML).rules
    let limiter = RateLimiter(rules: rules, clock: clock)
    let path = NSTemporaryDirectory() + "sluice-grpc-\(UInt32.random(in: 0...UInt32.max)).sock"
    defer { unlink(path) }
    let service = GRPCService(pipeline: DecisionPipeline(limiter: limiter))
    let pipeline = GRPCServerPipeline()
    let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try pipeline.configure(channel, service: service) }
        }
        .bind(unixDomainSocketPath: path).get()
    do {
        let result = try await withGRPCClient(
            transport: .http2NIOPosix(target: .unixDomainSocket(path: path), transportSecurity: .plaintext)
        ) { client in
            try await body(client, limiter, clock)
        }
        try await listener.close()
        return result
    } catch {
        try? await listener.close()
        throw error
    }
}

/// An Envoy descriptor from (key, value) pairs.
func descriptor(_ entries: (String, String)..., hits: UInt64? = nil) -> Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor {
    var d = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor()
    d.entries = entries.map { key, value in
        var entry = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor.Entry()
        entry.key = key
        entry.value = value
        return entry
    }
    if let hits { d.hitsAddend.value = hits }
    return d
}

/// An RLS request.
func rlsRequest(
    domain: String, _ descriptors: Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor..., hits: UInt32 = 0
) -> Envoy_Service_Ratelimit_V3_RateLimitRequest {
    var request = Envoy_Service_Ratelimit_V3_RateLimitRequest()
    request.domain = domain
    request.descriptors = descriptors
    request.hitsAddend = hits
    return request
}

/// A sluice.v1 check.
func checkRequest(_ rule: String, _ key: String, cost: Int64? = nil) -> Sluice_V1_CheckLimitRequest {
    var request = Sluice_V1_CheckLimitRequest()
    request.rule = rule
    request.key = key
    if let cost { request.cost = cost }
    return request
}
