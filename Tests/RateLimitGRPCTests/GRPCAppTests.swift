import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import RateLimitGRPC
import RateLimitHTTP
import SluiceApp
import RateLimitTestSupport
import Testing

/// The app with `--grpc-socket`, built in-process (`withTestApp`): a Swift gRPC client over the
/// real Unix socket, and the metrics it exports.
@Suite(.serialized) struct GRPCAppTests {
    @Test func envoyAndSluiceOverTheGRPCSocketWithMetrics() async throws {
        let sockets = TemporaryDirectory()
        defer { sockets.remove() }
        let grpcSocket = sockets.file("grpc.sock")
        try await withTestApp(config: grpcRulesYAML, configure: { $0.grpcSocketPath = grpcSocket }) { sluice throws in
            // Announced as listening only once it has its mode.
            let mode = try FileManager.default.attributesOfItem(atPath: grpcSocket)[.posixPermissions] as? Int
            #expect(mode == 0o660)
            try await withGRPCClient(
                transport: .http2NIOPosix(target: .unixDomainSocket(path: grpcSocket), transportSecurity: .plaintext)
            ) { client in
                let rls = Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
                let request = rlsRequest(domain: "edge", descriptor(("remote_address", "192.0.2.1")), descriptor(("x", "y")))
                let codes = try await (0..<3).asyncMap { _ in try await rls.shouldRateLimit(request).overallCode }
                #expect(codes == [.ok, .ok, .overLimit])
                let api = Sluice_V1_RateLimiter.Client(wrapping: client)
                let decision = try await api.checkLimit(checkRequest("per-ip", "192.0.2.1")).decision
                #expect(!decision.allowed)  // the same bucket as the Envoy descriptor's
                // 2 per minute: the next token in exactly 30 s on the manual clock.
                #expect(decision.retryAfterNs == 30_000_000_000)
            }
            // The HTTP API sees the same state.
            let status = try sluice.api("GET", "/v1/status?rule=per-ip&key=192.0.2.1")
            #expect(status.text.contains(#""remaining":0"#))

            #expect(try sluice.metric(#"rate_limiter_request_total{rule="per-ip",allowed="true"}"#) == 2)
            #expect(try sluice.metric(#"rate_limiter_request_total{rule="per-ip",allowed="false"}"#) == 2)
            #expect(try sluice.metric(#"rate_limiter_request_duration_seconds_count{endpoint="envoy_should_rate_limit"}"#) == 3)
            #expect(try sluice.metric(#"rate_limiter_request_duration_seconds_count{endpoint="grpc_check"}"#) == 1)
            #expect(try sluice.metric(#"rate_limiter_envoy_unmatched_descriptors_total{reason="no_rule"}"#) == 3)
            if let promtool = which("promtool") {
                let result = try runCommand(promtool, ["check", "metrics"], stdin: try sluice.ops("GET", "/metrics").text)
                #expect(result.status == 0, "promtool: \(result.stdout) \(result.stderr)")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: grpcSocket), "the gRPC socket is removed at shutdown")
    }

    @Test func twoSidecarsShareEnvoyLimitsThroughRedis() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let config = "backend:\n  type: redis\n  redis: { url: \"\(redis.url)\", timeout_ms: 2000, on_failure: deny }\n"
            + grpcRulesYAML
        let sockets = TemporaryDirectory()
        defer { sockets.remove() }
        try await withTestApp(config: config, configure: { $0.grpcSocketPath = sockets.file("a.sock") }) { a throws in
            try await withTestApp(config: config, configure: { $0.grpcSocketPath = sockets.file("b.sock") }) { _ throws in
                var codes: [Envoy_Service_Ratelimit_V3_RateLimitResponse.Code] = []
                for path in [sockets.file("a.sock"), sockets.file("b.sock"), sockets.file("a.sock")] {
                    let code = try await withGRPCClient(
                        transport: .http2NIOPosix(target: .unixDomainSocket(path: path), transportSecurity: .plaintext)
                    ) { client in
                        try await Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
                            .shouldRateLimit(rlsRequest(domain: "edge", descriptor(("remote_address", "198.51.100.7")))).overallCode
                    }
                    codes.append(code)
                }
                // per-ip allows 2 per minute in all: the third call, on either sidecar, is over.
                #expect(codes == [.ok, .ok, .overLimit])
                #expect(try a.metric(#"rate_limiter_redis_operations_total{operation="evalsha",status="ok"}"#).map { $0 >= 2 } == true)
            }
        }
    }

    @Test func aBusyGRPCSocketIsAStartError() async throws {
        try await withTestApp { first throws in
            let error = await #expect(throws: TestAppFailure.self) {
                try await withTestApp(configure: { $0.grpcSocketPath = first.socketPath }) { _ in }
            }
            #expect(error?.description.contains("listening on") == true, "\(String(describing: error))")
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}

/// Red team 2, F2: the gRPC socket has a connection cap and drains the connection quiet for
/// longest, so idle connections can neither exhaust descriptors nor lock a client out.
@Suite(.serialized) struct GRPCConnectionCapTests {
    @Test func idleConnectionsMakeRoomForANewClient() async throws {
        let sockets = TemporaryDirectory()
        defer { sockets.remove() }
        let grpcSocket = sockets.file("grpc.sock")
        try await withTestApp(config: grpcRulesYAML, configure: { $0.grpcSocketPath = grpcSocket; $0.maxConnections = 8 }) { sluice throws in
            let idle = try (0..<8).map { _ in try BlockingHTTPClient(unixSocket: grpcSocket) }
            #expect(await eventually { (try? sluice.metric(#"rate_limiter_connections{listener="grpc"}"#)) == 8 })
            // A connection must have been quiet for 1 s to be drained: new connections are refused
            // (all_busy) until then. Keep trying, with a deadline, until one gets in by draining.
            var probes: [BlockingHTTPClient] = []
            let drained = #"rate_limiter_connections_rejected_total{listener="grpc",reason="idle_drained"}"#
            let busy = #"rate_limiter_connections_rejected_total{listener="grpc",reason="all_busy"}"#
            var opened = 0.0
            let deadline = ContinuousClock.now + .seconds(10)
            while try sluice.metric(drained) != 1, ContinuousClock.now < deadline {
                if let probe = try? BlockingHTTPClient(unixSocket: grpcSocket) {
                    probes.append(probe)
                    opened += 1
                }
                // One probe at a time: wait until the server has refused or admitted it. Under a busy
                // test run its accept can lag this read, and the next probe would drain a second one.
                _ = await eventually { ((try? sluice.metric(busy)) ?? 0) + ((try? sluice.metric(drained)) ?? 0) >= opened }
            }
            #expect(try sluice.metric(drained) == 1)
            try await withGRPCClient(
                transport: .http2NIOPosix(target: .unixDomainSocket(path: grpcSocket), transportSecurity: .plaintext)
            ) { client in
                let api = Sluice_V1_RateLimiter.Client(wrapping: client)
                let decision = try await api.checkLimit(checkRequest("per-ip", "192.0.2.9")).decision
                #expect(decision.allowed)
            }
            #expect(try sluice.metric(drained) == 2)
            // Two idle connections made room (the probe's and the client's); the client has left:
            // 6 idle connections and the probe remain.
            #expect(await eventually { (try? sluice.metric(#"rate_limiter_connections{listener="grpc"}"#)) == 7 })
            withExtendedLifetime((idle, probes)) {}
        }
    }
}
