import Foundation
import RateLimitTestSupport
import Testing

@Suite(.serialized) struct MetricsTests {
    @Test func countersMoveByExactlyN() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            let allowed = #"rate_limiter_request_total{rule="login",allowed="true"}"#
            let denied = #"rate_limiter_request_total{rule="login",allowed="false"}"#
            let hits = #"rate_limiter_hits_total{rule="login"}"#
            let before = (try sluice.metric(allowed) ?? 0, try sluice.metric(denied) ?? 0, try sluice.metric(hits) ?? 0)
            let client = try sluice.client()
            let n = 37
            var statuses: [Int] = []
            for i in 0..<n { statuses.append(try client.request("POST", "/v1/check", body: #"{"rule":"login","key":"m\#(i % 5)"}"#).status) }
            let ok = Double(statuses.filter { $0 == 200 }.count), no = Double(statuses.filter { $0 == 429 }.count)
            #expect(ok == 10 && no == 27)  // 2 per key, 5 keys
            #expect(try sluice.metric(allowed) == before.0 + ok)
            #expect(try sluice.metric(denied) == before.1 + no)
            #expect(try sluice.metric(hits) == before.2 + no)
            #expect(try sluice.metric(#"rate_limiter_token_bucket_size_count{rule="login"}"#) == Double(n))
            #expect(try sluice.metric(#"rate_limiter_request_duration_seconds_count{endpoint="check"}"#) == Double(n))
            #expect(try sluice.metric(#"rate_limiter_active_clients{rule="login"}"#) == 5)
            #expect(try sluice.metric(#"rate_limiter_build_info{version="0.1.0",revision="unknown"}"#) == 1)
            #expect(try sluice.metric("process_resident_memory_bytes").map { $0 > 1_000_000 } == true)
            #expect(try sluice.metric("process_open_fds").map { $0 > 3 } == true)
        }
    }

    @Test func promtoolAcceptsTheExposition() async throws {
        guard let promtool = which("promtool") else {
            let required = ProcessInfo.processInfo.environment["SLUICE_REQUIRE_TOOLS"] == "1"
            #expect(!required, "promtool is required (scripts/test installs it)")
            return
        }
        try await withTestApp(config: testRules) { sluice throws in
            _ = try sluice.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#)
            let exposition = try sluice.ops("GET", "/metrics").text
            let result = try runCommand(promtool, ["check", "metrics"], stdin: exposition)
            #expect(result.status == 0, "promtool: \(result.stdout) \(result.stderr)")
        }
    }
}

