import Foundation
import RateLimitHTTP
import SluiceApp
import RateLimitTestSupport
import Testing

/// Bad input gets a clear 4xx or a clean close; the server keeps serving everyone else.
@Suite(.serialized) struct HostileInputTests {
    private func raw(_ sluice: some SluiceEndpoints, _ bytes: [UInt8]) throws -> BlockingHTTPClient.Response {
        let client = try sluice.client()
        try client.send(bytes)
        return try client.readResponse()
    }

    @Test func malformedRequestsGetTheRightStatusAndTheServerStaysUp() async throws {
        try await withTestApp(config: testRules, configure: { $0.requestTimeout = .milliseconds(300) }) { sluice throws in
            let garbage = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }
            #expect(try raw(sluice, garbage + Array("\r\n\r\n".utf8)).status == 400)
            #expect(try raw(sluice, Array("GET /v1/rules HTTP/1.1\r\nX: \(String(repeating: "a", count: 200_000))\r\n\r\n".utf8)).status == 431)
            #expect(try raw(sluice, Array("POST /v1/check HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)).status == 400)
            let chunkedBody = #"{"rule":"api","key":"chunked"}"#
            let chunked = "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                + String(chunkedBody.utf8.count, radix: 16) + "\r\n" + chunkedBody + "\r\n0\r\n\r\n"
            #expect(try raw(sluice, Array(chunked.utf8)).status == 200)
            // Invalid UTF-8 inside a JSON string.
            let invalid = Array(#"{"rule":"api","key":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
            let invalidRequest = Array("POST /v1/check HTTP/1.1\r\nContent-Length: \(invalid.count)\r\n\r\n".utf8) + invalid
            let bad = try raw(sluice, invalidRequest)
            #expect(bad.status == 400 && bad.text.contains("invalid UTF-8"))
            let deep = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
            #expect(try sluice.api("POST", "/v1/check", body: deep).text.contains("nested deeper"))
            // A slow client that never finishes its request gets 408 and a close.
            let slow = try sluice.client()
            try slow.send(Array("POST /v1/check HTTP/1.1\r\nContent-Length: 10\r\n\r\n{".utf8))
            let timedOut = try slow.readResponse()
            #expect(timedOut.status == 408)
            #expect(slow.isClosedByPeer())
            // Still serving.
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"api","key":"after"}"#).status == 200)
        }
    }

    /// At the cap the longest-idle keep-alive connection makes room (issue 16): a client that
    /// leaks connections can never lock the application out.
    @Test func atTheCapTheLongestIdleConnectionMakesRoom() async throws {
        try await withTestApp(config: testRules, configure: { $0.maxConnections = 4 }) { sluice throws in
            let held = try (0..<4).map { _ in try sluice.client() }
            for client in held { #expect(try client.request("GET", "/v1/rules").status == 200) }
            // held[0] is now the longest idle.
            for client in held.dropFirst() { #expect(try client.request("GET", "/v1/status?rule=api&key=k").status == 200) }
            // Admitted at once, by draining (issue 16), not after the idle timeout (60 s).
            let extra = try sluice.client()
            #expect(try extra.request("GET", "/v1/status?rule=api&key=k").status == 200)
            #expect(held[0].isClosedByPeer())
            for client in held.dropFirst() { #expect(try client.request("GET", "/v1/status?rule=api&key=k").status == 200) }
            #expect(try sluice.metric(#"rate_limiter_connections_rejected_total{listener="api",reason="idle_drained"}"#) == 1)
            #expect(try sluice.metric(#"rate_limiter_connections_rejected_total{listener="api",reason="all_busy"}"#) == 0)
            #expect(try sluice.metric(#"rate_limiter_connections{listener="api"}"#) == 4)
        }
    }
}
