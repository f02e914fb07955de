import NIOCore
import NIOEmbedded
import RateLimitCore
@testable import RateLimitHTTP
import RateLimitConfig
import RateLimitMetrics
import Testing

/// Concurrency leases over the HTTP API in process on a manual clock (issue 15): a check's
/// `lease` and `lease_expires_ms`, `POST /v1/release`, its errors, batches and the gauge.
@Suite struct ReleaseAPITests {
    let clock = ManualClock(now: 0)

    func make() throws -> (APIHandler, SluiceMetrics) {
        let metrics = SluiceMetrics(version: "test", topKeys: TopKeysSettings())
        let rules = try RuleSet([
            Rule(name: "jobs", limits: Limits(algorithm: .concurrency, limit: 2, period: 30_000_000_000)),
            Rule(name: "fw", limits: Limits(algorithm: .fixedWindow, limit: 3, period: 60_000_000_000)),
        ])
        let limiter = RateLimiter(rules: rules, clock: clock) { metrics.recorder(forRule: $0.name) }
        return (APIHandler(pipeline: DecisionPipeline(limiter: limiter), parseRule: { try ConfigLoader.parseRule($0) }, reloader: nil), metrics)
    }

    func send(_ api: APIHandler, _ path: String, _ body: String) -> (HTTPStatus, String) {
        let request = HTTPRequest(method: .post, path: path, query: "", body: ByteBuffer(string: body), keepAlive: true)
        guard case .now(let response) = api.answer(request, allocator: ByteBufferAllocator(), eventLoop: EmbeddedEventLoop()) else {
            return (.serviceUnavailable, "answered later")
        }
        return (response.status, String(buffer: response.body))
    }

    @Test func aCheckAnswersALeaseAndReleaseFreesIt() throws {
        let (api, _) = try make()
        let first = send(api, "/v1/check", #"{"rule":"jobs","key":"u"}"#)
        #expect(first.0 == .ok)
        #expect(first.1 == #"{"allowed":true,"limit":2,"remaining":1,"reset_after_ms":30000,"retry_after_ms":0,"delay_ms":0,"lease":"1","lease_expires_ms":30000}"#)
        clock.advance(by: 1_000_000_000)
        #expect(send(api, "/v1/check", #"{"rule":"jobs","key":"u"}"#).1.contains(#""lease":"2""#))
        let denied = send(api, "/v1/check", #"{"rule":"jobs","key":"u"}"#)
        #expect(denied.0 == .tooManyRequests)
        #expect(denied.1 == #"{"allowed":false,"limit":2,"remaining":0,"reset_after_ms":30000,"retry_after_ms":29000,"delay_ms":0}"#)
        let released = send(api, "/v1/release", #"{"rule":"jobs","key":"u","lease":"1"}"#)
        #expect(released.0 == .ok)
        #expect(released.1 == #"{"released":true,"lease":"1","limit":2,"remaining":1,"reset_after_ms":30000}"#)
        #expect(send(api, "/v1/release", #"{"rule":"jobs","key":"u","lease":2}"#).0 == .ok)  // a JSON integer works too
    }

    @Test(arguments: [
        (#"{"rule":"jobs","key":"u","lease":"1"}"#, HTTPStatus.conflict, "lease 1 is not held: it was already released or expired at its lease_ttl"),
        (#"{"rule":"jobs","key":"u","lease":"9"}"#, .notFound, "lease 9 was never granted for this key"),
        (#"{"rule":"fw","key":"u","lease":"1"}"#, .badRequest, #"rule \"fw\" is not a concurrency rule: it grants no leases to release"#),
        (#"{"rule":"nope","key":"u","lease":"1"}"#, .notFound, #"unknown rule \"nope\""#),
        (#"{"rule":"jobs","key":"u"}"#, .badRequest, "missing field lease"),
        (#"{"rule":"jobs","key":"u","lease":"-1"}"#, .badRequest, "lease must be the lease id a check answered"),
        (#"{"rule":"jobs","key":"u","lease":true}"#, .badRequest, "lease must be the lease id a check answered"),
        (#"{"rule":"jobs","key":"u","lease":"1","x":1}"#, .badRequest, "unknown field x"),
        (#"{"key":"u","lease":"1"}"#, .badRequest, "missing field rule"),
    ])
    func releaseErrorsAreClear(body: String, status: HTTPStatus, message: String) throws {
        let (api, _) = try make()
        _ = send(api, "/v1/check", #"{"rule":"jobs","key":"u"}"#)
        _ = send(api, "/v1/release", #"{"rule":"jobs","key":"u","lease":"1"}"#)
        let (got, text) = send(api, "/v1/release", body)
        #expect(got == status)
        #expect(text.contains(message), "\(text)")
    }

    @Test func aBatchGrantsOneLeasePerConcurrencyItemOrNone() throws {
        let (api, metrics) = try make()
        let ok = send(api, "/v1/check", #"{"checks":[{"rule":"jobs","key":"u"},{"rule":"fw","key":"u"}]}"#)
        #expect(ok.0 == .ok && ok.1.contains(#""lease":"1""#))
        _ = send(api, "/v1/check", #"{"rule":"fw","key":"u","cost":2}"#)
        let denied = send(api, "/v1/check", #"{"checks":[{"rule":"jobs","key":"u"},{"rule":"fw","key":"u"}]}"#)
        #expect(denied.0 == .tooManyRequests && !denied.1.contains("lease"))
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(!text.contains("rate_limiter_leases_active"), "rendered after a scrape sets it")
        let reportOnLeases = send(api, "/v1/report", #"{"rule":"jobs","key":"u","cost":1}"#)
        #expect(reportOnLeases.0 == .badRequest && reportOnLeases.1.contains("release its leases"))
    }
}
