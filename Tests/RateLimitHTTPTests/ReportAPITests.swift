import NIOCore
import NIOEmbedded
import RateLimitCore
@testable import RateLimitHTTP
import RateLimitConfig
import RateLimitMetrics
import Testing

/// `POST /v1/report` in process on a manual clock: the answer after the report, the batch form,
/// idempotent retries, the errors naming the field, and `rate_limiter_reported_total`.
@Suite struct ReportAPITests {
    let clock = ManualClock(now: 1_749_999_960_000_000_000)  // a whole minute: windows start here

    func make() throws -> (APIHandler, RateLimiter, SluiceMetrics) {
        let metrics = SluiceMetrics(version: "test", topKeys: TopKeysSettings())
        let rules = try RuleSet([
            Rule(name: "llm", limits: Limits(algorithm: .tokenBucket, limit: 1000, period: 60_000_000_000)),
            Rule(name: "fw", limits: Limits(algorithm: .fixedWindow, limit: 3, period: 60_000_000_000)),
        ])
        let limiter = RateLimiter(rules: rules, clock: clock) { metrics.recorder(forRule: $0.name) }
        return (APIHandler(pipeline: DecisionPipeline(limiter: limiter), parseRule: { try ConfigLoader.parseRule($0) }, reloader: nil), limiter, metrics)
    }

    func send(_ api: APIHandler, _ body: String) -> (HTTPStatus, String) { send(api, .post, "/v1/report", body) }

    func send(_ api: APIHandler, _ path: String, _ body: String) -> (HTTPStatus, String) { send(api, .post, path, body) }

    func send(_ api: APIHandler, _ method: HTTPMethod, _ path: String, _ body: String) -> (HTTPStatus, String) {
        let request = HTTPRequest(method: method, path: path, query: "", body: ByteBuffer(string: body), keepAlive: true)
        guard case .now(let response) = api.answer(request, allocator: ByteBufferAllocator(), eventLoop: EmbeddedEventLoop()) else {
            return (.serviceUnavailable, "answered later")
        }
        return (response.status, String(buffer: response.body))
    }

    @Test func aReportAnswersTheStateAfterIt() throws {
        let (api, _, metrics) = try make()
        // Checked with an estimate of 100 tokens; the call used 1500: 500 in debt, repaid at 1000/min.
        #expect(send(api, "/v1/check", #"{"rule":"llm","key":"u","cost":100}"#).0 == .ok)
        let (status, body) = send(api, #"{"rule":"llm","key":"u","cost":1400}"#)
        #expect(status == .ok)
        #expect(body == #"{"reported":true,"duplicate":false,"limit":1000,"remaining":0,"debt":500,"reset_after_ms":90000,"retry_after_ms":30060}"#)
        #expect(send(api, "/v1/check", #"{"rule":"llm","key":"u"}"#).0 == .tooManyRequests)
        let text = String(decoding: metrics.render(), as: UTF8.self)
        #expect(text.contains(#"rate_limiter_reported_total{rule="llm"} 1"#), "\(text)")
    }

    @Test func theBatchFormAndARetriedID() throws {
        let (api, _, _) = try make()
        let (status, body) = send(api, #"{"reports":[{"rule":"fw","key":"a","cost":2,"id":"r1"},{"rule":"fw","key":"b","cost":-1}]}"#)
        #expect(status == .ok)
        #expect(body == #"{"results":[{"rule":"fw","key":"a","reported":true,"duplicate":false,"limit":3,"remaining":1,"debt":0,"reset_after_ms":60000,"retry_after_ms":0},{"rule":"fw","key":"b","reported":true,"duplicate":false,"limit":3,"remaining":3,"debt":0,"reset_after_ms":0,"retry_after_ms":0}]}"#)
        let retry = send(api, #"{"rule":"fw","key":"a","cost":2,"id":"r1"}"#)
        #expect(retry.1 == #"{"reported":false,"duplicate":true,"limit":3,"remaining":1,"debt":0,"reset_after_ms":60000,"retry_after_ms":0}"#)
    }

    @Test(arguments: [
        (#"{"rule":"fw","key":"a"}"#, HTTPStatus.badRequest, "missing field cost"),
        (#"{"rule":"fw","key":"a","cost":"3"}"#, .badRequest, "cost must be an integer from -1000000000 to 1000000000"),
        (#"{"rule":"fw","key":"a","cost":1.5}"#, .badRequest, "cost must be an integer from -1000000000 to 1000000000"),
        (#"{"rule":"fw","key":"a","cost":-1000000001}"#, .badRequest, "cost must be an integer from -1000000000 to 1000000000"),
        (#"{"rule":"fw","key":"a","cost":1,"id":""}"#, .badRequest, "id must be 1-128 bytes without control characters"),
        (#"{"rule":"fw","key":"a","cost":1,"id":7}"#, .badRequest, "id must be a string"),
        (#"{"rule":"fw","key":"a","cost":1,"allowed":true}"#, .badRequest, "unknown field allowed"),
        (#"{"reports":[{"rule":"fw","key":"a","cost":1},{"rule":"fw","cost":1}]}"#, .badRequest, "missing field reports[1].key"),
        (#"{"reports":[]}"#, .badRequest, "reports must not be empty"),
        (#"{"reports":{}}"#, .badRequest, "reports must be an array"),
        (#"{"rule":"nope","key":"a","cost":1}"#, .notFound, "unknown rule"),
    ])
    func badReportsNameTheField(body: String, status: HTTPStatus, message: String) throws {
        let (api, limiter, _) = try make()
        let (got, text) = send(api, body)
        #expect(got == status && text.contains(message), "\(text)")
        #expect(limiter.store.trackedKeys == 0)  // a bad batch records nothing
    }

    @Test func onlyPost() throws {
        let (api, _, _) = try make()
        #expect(send(api, .get, "/v1/report", "").0 == .methodNotAllowed)
    }
}
