import Foundation
import RateLimitCore
import RateLimitHTTP
import RateLimitTestSupport
import SluiceApp
import Testing

let testRules = """
    rules:
      - { name: api, algorithm: token_bucket, limit: 10, period: 1m, burst: 3 }
      - { name: shaped, algorithm: leaky_bucket, limit: 10, period: 1s, burst: 2 }
      - { name: dry, algorithm: fixed_window, limit: 1, period: 1h, shadow: true }
      - name: login
        algorithm: sliding_window
        limit: 2
        period: 1m
        overrides:
          - { key: probe, unlimited: true }
    """

/// Every endpoint and every error status over a real Unix socket.
@Suite(.serialized) struct APITests {
    @Test func checkAllowsThenDeniesWithHeaders() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            let client = try sluice.client()  // one keep-alive connection for all
            for (remaining, reset) in [(2, 6), (1, 12), (0, 18)] {
                let r = try client.request("POST", "/v1/check", body: #"{"rule":"api","key":"u1"}"#)
                #expect(r.status == 200)
                #expect(r.text == #"{"allowed":true,"limit":10,"remaining":\#(remaining),"reset_after_ms":\#(reset * 1000),"retry_after_ms":0,"delay_ms":0}"#)
                #expect(r.header("RateLimit-Policy") == "\"api\";q=10;w=60")
                #expect(r.header("RateLimit") == "\"api\";r=\(remaining);t=\(reset)")
            }
            // One token per 6 s: exactly 6 s to wait on the manual clock.
            let denied = try client.request("POST", "/v1/check", body: #"{"rule":"api","key":"u1"}"#)
            #expect(denied.status == 429)
            #expect(denied.text == #"{"allowed":false,"limit":10,"remaining":0,"reset_after_ms":18000,"retry_after_ms":6000,"delay_ms":0}"#)
            #expect(denied.header("Retry-After") == "6")
            sluice.clock.advance(by: .milliseconds(5_999))
            let early = try client.request("POST", "/v1/check", body: #"{"rule":"api","key":"u1"}"#)
            #expect(early.status == 429 && early.text.contains(#""retry_after_ms":1,"#), "\(early.text)")
            sluice.clock.advance(by: .milliseconds(1))
            let onTime = try client.request("POST", "/v1/check", body: #"{"rule":"api","key":"u1"}"#)
            #expect(onTime.text == #"{"allowed":true,"limit":10,"remaining":0,"reset_after_ms":18000,"retry_after_ms":0,"delay_ms":0}"#)
            // Status asks about now and consumes nothing: without a cost it reports the quota as it
            // stands (issue 15); with cost=1 it answers as the check would.
            let status = try client.request("GET", "/v1/status?rule=api&key=u1")
            #expect(status.status == 200 && status.text.contains("\"remaining\":0"), "\(status.text)")
            #expect(try client.request("GET", "/v1/status?rule=api&key=u1&cost=1").status == 429)
            let other = try client.request("GET", "/v1/status?rule=api&key=u%202")
            #expect(other.status == 200 && other.text.contains("\"remaining\":3"), "a fresh key shows the full quota: \(other.text)")
            // Reset forgets the key.
            #expect(try client.request("POST", "/v1/reset", body: #"{"rule":"api","key":"u1"}"#).status == 200)
            #expect(try client.request("POST", "/v1/check", body: #"{"rule":"api","key":"u1","cost":3}"#).status == 200)
        }
    }

    @Test func leakyBucketDelayShadowAndOverrides() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            let client = try sluice.client()
            let first = try client.request("POST", "/v1/check", body: #"{"rule":"shaped","key":"k"}"#)
            let second = try client.request("POST", "/v1/check", body: #"{"rule":"shaped","key":"k"}"#)
            // 10 per second: each request queued behind another waits 100 ms more.
            #expect(first.text == #"{"allowed":true,"limit":10,"remaining":2,"reset_after_ms":100,"retry_after_ms":0,"delay_ms":0}"#)
            #expect(second.text == #"{"allowed":true,"limit":10,"remaining":1,"reset_after_ms":200,"retry_after_ms":0,"delay_ms":100}"#)
            for _ in 0..<3 {
                #expect(try client.request("POST", "/v1/check", body: #"{"rule":"dry","key":"k"}"#).status == 200)
            }
            #expect(try sluice.metric(#"rate_limiter_shadow_denied_total{rule="dry"}"#) == 2)
            for _ in 0..<5 {
                #expect(try client.request("POST", "/v1/check", body: #"{"rule":"login","key":"probe"}"#).status == 200)
            }
        }
    }

    @Test func batchIsAtomic() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            let client = try sluice.client()
            let batch = #"{"checks":[{"rule":"api","key":"b","cost":2},{"rule":"login","key":"b","cost":2}]}"#
            let ok = try client.request("POST", "/v1/check", body: batch)
            #expect(ok.status == 200 && ok.text.hasPrefix("{\"allowed\":true,\"results\":[{\"rule\":\"api\",\"key\":\"b\""))
            let denied = try client.request("POST", "/v1/check", body: batch)
            #expect(denied.status == 429 && denied.header("Retry-After") != nil)
            let api = try client.request("GET", "/v1/status?rule=api&key=b&cost=0")
            #expect(api.text.contains("\"remaining\":1"))  // the denied batch charged nothing
            // And the denied batch said so: each item's remaining is the state as it is (issue 15).
            #expect(denied.text.contains(#"{"rule":"api","key":"b","allowed":false,"limit":10,"remaining":1,"#), "\(denied.text)")
        }
    }

    @Test func everyErrorStatus() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            func post(_ body: String, _ path: String = "/v1/check") throws -> BlockingHTTPClient.Response {
                try sluice.api("POST", path, body: body)
            }
            let cases: [(BlockingHTTPClient.Response, Int, String)] = [
                (try post("{"), 400, "malformed JSON"),
                (try post(#"{"key":"k"}"#), 400, "missing field rule"),
                (try post(#"{"rule":"api","key":7}"#), 400, "key must be a string"),
                (try post(#"{"rule":"api","key":"k","cost":-1}"#), 400, "cost must be an integer"),
                (try post(#"{"rule":"api","key":"k","cost":4}"#), 400, "exceeds what the rule can ever grant"),
                (try post(#"{"rule":"api","key":""}"#), 400, "key must not be empty"),
                (try post(#"{"rule":"api","key":"\u0000"}"#), 400, "control characters"),
                (try post(#"{"rule":"api","key":"\#(String(repeating: "k", count: 1025))"}"#), 400, "maximum is 1024"),
                (try post(#"{"rule":"nope","key":"k"}"#), 404, "unknown rule"),
                (try sluice.api("GET", "/v1/nothing"), 404, "no such endpoint"),
                (try sluice.api("GET", "/v1/check"), 405, "use POST"),
                (try sluice.api("DELETE", "/v1/status"), 405, "use GET"),
                (try sluice.api("GET", "/v1/status?rule=api"), 400, "missing query parameter key"),
                (try post(String(repeating: " ", count: 70_000)), 413, "larger than"),
            ]
            for (response, status, text) in cases {
                #expect(response.status == status, "\(text): \(response.text)")
                #expect(response.text.contains(text), "\(status): \(response.text)")
            }
            #expect(try sluice.api("GET", "/v1/check").header("Allow") == "POST")
            let client = try sluice.client()
            try client.send(Array("GET /v1/rules HTTP/1.1\r\nX-Big: \(String(repeating: "h", count: 20_000))\r\n\r\n".utf8))
            let big = try client.readResponse()
            #expect(big.status == 431)
            #expect(client.isClosedByPeer())
        }
    }

    /// F19: a cap of 0 would refuse everything, admin included; it is refused at start.
    @Test func aZeroInflightCapIsRefusedAtStart() {
        var options = AppOptions(socketPath: "/tmp/sluice-never.sock")
        options.maxInflight = 0
        #expect(throws: StartError("--max-inflight must be at least 1")) { try options.validate() }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            let client = try sluice.client()
            var raw = ""
            for i in 0..<100 {
                let body = #"{"rule":"login","key":"p\#(i % 7)","cost":0}"#
                raw += "POST /v1/check HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                raw += "GET /v1/status?rule=api&key=order\(i) HTTP/1.1\r\n\r\n"
            }
            try client.send(Array(raw.utf8))
            for _ in 0..<100 {
                #expect(try client.readResponse().text.contains("\"limit\":2"))
                #expect(try client.readResponse().text.contains("\"limit\":10"))
            }
        }
    }

    @Test func adminRulesAndNoAdmin() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            let list = try sluice.api("GET", "/v1/rules")
            #expect(list.status == 200 && list.text.contains(#"{"name":"api","algorithm":"token_bucket","limit":10,"period":"1m","burst":3"#))
            let created = try sluice.api("PUT", "/v1/rules/new", body: #"{"algorithm":"fixed_window","limit":1,"period":"1s"}"#)
            #expect(created.status == 201)
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"new","key":"k"}"#).status == 200)
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"new","key":"k"}"#).status == 429)
            let bad = try sluice.api("PUT", "/v1/rules/new", body: #"{"algorithm":"fixed_window","limit":0,"period":"1s"}"#)
            #expect(bad.status == 400 && bad.text.contains("limit"))
            #expect(try sluice.api("DELETE", "/v1/rules/new").status == 200)
            #expect(try sluice.api("DELETE", "/v1/rules/new").status == 404)
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"new","key":"k"}"#).status == 404)

        }
        try await withTestApp(config: testRules, configure: { $0.adminEnabled = false }) { locked throws in
            #expect(try locked.api("GET", "/v1/rules").status == 403)
            #expect(try locked.api("POST", "/v1/reload").status == 403)
            #expect(try locked.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#).status == 200)
        }
    }

    @Test func idleConnectionsAreClosed() async throws {
        try await withTestApp(config: testRules, configure: { $0.idleTimeout = .milliseconds(200) }) { sluice throws in
            let client = try sluice.client()
            #expect(try client.request("GET", "/v1/rules").status == 200)
            #expect(await eventually(timeout: .seconds(5)) { client.isClosedByPeer() })
        }
    }

    @Test func opsPortServesOnlyReadOnlyEndpoints() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            #expect(try sluice.ops("GET", "/healthz").status == 200)
            #expect(try sluice.ops("GET", "/readyz").status == 200)
            #expect(try sluice.ops("POST", "/metrics").status == 405)
            #expect(try sluice.ops("GET", "/v1/rules").status == 404)
            #expect(try sluice.ops("GET", "/v1/check").status == 404)
            let mode = try FileManager.default.attributesOfItem(atPath: sluice.socketPath)[.posixPermissions] as? Int
            #expect(mode == 0o660)
        }
    }
}
