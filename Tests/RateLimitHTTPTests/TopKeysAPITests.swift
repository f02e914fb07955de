import NIOCore
import NIOEmbedded
import RateLimitCore
@testable import RateLimitHTTP
import RateLimitConfig
import RateLimitMetrics
import Testing

/// `GET /v1/top` and the opt-in `rate_limiter_top_key_*` series, in process on a manual clock.
@Suite struct TopKeysAPITests {
    let clock = ManualClock(now: 1_749_999_960_000_000_000)  // a whole minute: intervals start here

    func make(_ settings: TopKeysSettings) throws -> (APIHandler, RateLimiter, SluiceMetrics) {
        let metrics = SluiceMetrics(version: "test", topKeys: settings)
        let rules = try RuleSet([
            Rule(name: "api", limits: Limits(algorithm: .fixedWindow, limit: 3, period: 60_000_000_000)),
        ])
        let limiter = RateLimiter(rules: rules, clock: clock) { metrics.recorder(forRule: $0.name) }
        return (APIHandler(pipeline: DecisionPipeline(limiter: limiter), parseRule: { try ConfigLoader.parseRule($0) }, reloader: nil), limiter, metrics)
    }

    func get(_ api: APIHandler, _ query: String) -> (HTTPStatus, String) {
        let request = HTTPRequest(method: .get, path: "/v1/top", query: query, body: ByteBuffer(), keepAlive: true)
        guard case .now(let response) = api.answer(request, allocator: ByteBufferAllocator(), eventLoop: EmbeddedEventLoop()) else {
            return (.serviceUnavailable, "answered later")
        }
        return (response.status, String(buffer: response.body))
    }

    @Test func theHeaviestKeysWithTheirCountsAndBound() throws {
        var settings = TopKeysSettings()
        settings.capacity = 4
        let (api, limiter, _) = try make(settings)
        for (key, n) in [("alice", 5), ("bob", 2), ("carol", 1)] {
            for _ in 0..<n { _ = try limiter.check(CheckRequest(rule: "api", key: key)) }
        }
        clock.advance(by: 30_000_000_000)
        let (status, body) = get(api, "rule=api&n=2")
        #expect(status == .ok)
        #expect(body == #"{"rule":"api","by":"requests","covering_ms":90000,"untracked_max":0,"keys":[{"key":"alice","count":5,"error":0},{"key":"bob","count":2,"error":0}]}"#)
        // Denials: alice's last two of five (the limit is 3 a minute).
        #expect(get(api, "rule=api&by=denied").1.contains(#""keys":[{"key":"alice","count":2,"error":0}]"#))
    }

    @Test(arguments: [
        ("n=2", HTTPStatus.badRequest, "missing query parameter rule"),
        ("rule=nope", .notFound, "unknown rule"),
        ("rule=api&by=allowed", .badRequest, "by must be requests or denied"),
        ("rule=api&n=0", .badRequest, "n must be an integer from 1 to 1000"),
        ("rule=api&n=x", .badRequest, "n must be an integer from 1 to 1000"),
    ])
    func badQueriesSaySo(query: String, status: HTTPStatus, message: String) throws {
        let (api, _, _) = try make(TopKeysSettings())
        let (got, body) = get(api, query)
        #expect(got == status && body.contains(message), "\(body)")
    }

    @Test func turnedOffIsAConflictNotAnEmptyList() throws {
        var settings = TopKeysSettings()
        settings.capacity = 0
        let (api, _, _) = try make(settings)
        #expect(get(api, "rule=api") == (.conflict, #"{"error":"top keys are not kept (--top-keys 0)"}"#))
    }

    @Test func theMetricNeverExceedsKSeriesPerRule() throws {
        var settings = TopKeysSettings()
        settings.capacity = 16
        settings.exported = 5
        let (_, limiter, metrics) = try make(settings)
        for i in 0..<1_000_000 { _ = try limiter.check(CheckRequest(rule: "api", key: "k\(i % 250_000)")) }
        let text = String(decoding: metrics.render(now: clock.now), as: UTF8.self)
        let requests = text.split(separator: "\n").filter { $0.hasPrefix("rate_limiter_top_key_requests{") }
        let denied = text.split(separator: "\n").filter { $0.hasPrefix("rate_limiter_top_key_denied{") }
        #expect(requests.count == 5 && denied.count == 5)
        #expect(requests.allSatisfy { $0.hasPrefix(#"rate_limiter_top_key_requests{rule="api",key="k"#) })
    }

    @Test func theMetricCanNameKeysByAKeyedHash() throws {
        var settings = TopKeysSettings()
        settings.capacity = 4
        settings.exported = 1
        settings.labelSecret = Array("Jefe".utf8)
        let (_, limiter, metrics) = try make(settings)
        _ = try limiter.check(CheckRequest(rule: "api", key: "what do ya want for nothing?"))
        let text = String(decoding: metrics.render(now: clock.now), as: UTF8.self)
        // RFC 4231, test case 2: HMAC-SHA256("Jefe", "what do ya want for nothing?") = 5bdcc146bf60754e…
        #expect(text.contains(#"rate_limiter_top_key_requests{rule="api",key="5bdcc146bf60754e"} 1"#))
        #expect(!text.contains("nothing"))
    }
}
