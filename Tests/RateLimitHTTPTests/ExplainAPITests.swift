import NIOCore
import NIOEmbedded
import RateLimitCore
@testable import RateLimitHTTP
import RateLimitConfig
import RateLimitMetrics
import Testing

/// `"explain": true` on a check and `explain=1` on a status, rendered exactly.
@Suite struct ExplainAPITests {
    let clock = ManualClock(now: 1_749_999_960_000_000_000)

    func api() throws -> APIHandler {
        let rules = try RuleSet([Rule(name: "api", limits: Limits(algorithm: .fixedWindow, limit: 2, period: 60_000_000_000))])
        return APIHandler(pipeline: DecisionPipeline(limiter: RateLimiter(rules: rules, clock: clock)), parseRule: { try ConfigLoader.parseRule($0) }, reloader: nil)
    }

    func send(_ api: APIHandler, _ method: HTTPMethod, _ path: String, query: String = "", body: String = "") -> (HTTPStatus, String) {
        let request = HTTPRequest(method: method, path: path, query: query, body: ByteBuffer(string: body), keepAlive: true)
        guard case .now(let response) = api.answer(request, allocator: ByteBufferAllocator(), eventLoop: EmbeddedEventLoop()) else {
            return (.serviceUnavailable, "answered later")
        }
        return (response.status, String(buffer: response.body))
    }

    @Test func aCheckAndAStatusExplainThemselves() throws {
        let api = try api()
        let state = #""state":{"window_start_ns":1749999960000000000,"count":1}"#
        let check = send(api, .post, "/v1/check", body: #"{"rule":"api","key":"k","explain":true}"#)
        #expect(check.0 == .ok)
        #expect(check.1.hasSuffix(#","explain":{"rule":"api","override":null,"algorithm":"fixed_window","limit":2,"period_ms":60000,"burst":2,"store":"memory",\#(state),"allowed_at_ns":1749999960000000000}}"#), "\(check.1)")
        let status = send(api, .get, "/v1/status", query: "rule=api&key=k&cost=2&explain=1")
        #expect(status.0 == .tooManyRequests && status.1.contains(#""allowed_at_ns":1750000020000000000}"#), "\(status.1)")
        let batch = send(api, .post, "/v1/check", body: #"{"checks":[{"rule":"api","key":"k"},{"rule":"api","key":"j"}],"explain":true}"#)
        #expect(batch.1.components(separatedBy: #""explain":{"#).count == 3, "\(batch.1)")
        #expect(!send(api, .post, "/v1/check", body: #"{"rule":"api","key":"k"}"#).1.contains("explain"))
    }

    @Test(arguments: [
        (HTTPMethod.post, "/v1/check", "", #"{"rule":"api","key":"k","explain":"yes"}"#, "explain must be true or false, got a string"),
        (.get, "/v1/status", "rule=api&key=k&explain=yes", "", "explain must be 1 or 0"),
        (.post, "/v1/check", "", #"{"checks":[{"rule":"api","key":"k","explain":true}]}"#, "unknown field checks[0].explain"),
    ])
    func badExplainsSaySo(method: HTTPMethod, path: String, query: String, body: String, message: String) throws {
        let (status, text) = send(try api(), method, path, query: query, body: body)
        #expect(status == .badRequest && text.contains(message), "\(text)")
    }
}

@Suite struct APIEndpointPositionTests {
    @Test func positionsFollowAllCases() {
        #expect(APIHandler.Endpoint.allCases.enumerated().allSatisfy { $0.offset == $0.element.position })
    }
}
