public import NIOCore
public import RateLimitCore

/// The Unix-socket API (DESIGN.md §3): checks, statuses and resets go through the decision
/// pipeline (answered now in memory, later by a remote store); the admin endpoints answer now.
public final class APIHandler: Sendable {
    public enum Endpoint: String, Sendable, CaseIterable {
        case check, status, reset, rules, reload, top, report, release

        /// Its position in `allCases`, without building `allCases` per request.
        public var position: Int {
            switch self {
            case .check: 0
            case .status: 1
            case .reset: 2
            case .rules: 3
            case .reload: 4
            case .top: 5
            case .report: 6
            case .release: 7
            }
        }
    }

    let pipeline: DecisionPipeline
    var limiter: RateLimiter { pipeline.limiter }
    let observer: (any APIObserver)?
    let parseRule: RuleParser
    let reloader: (any RulesReloading)?
    let adminEnabled: Bool

    /// What a request asks once routed: an answer already written, or the pipeline's work.
    private enum Routed {
        case answered(Endpoint)
        case decide(Endpoint, Checks, commit: Bool, explain: Bool)
        case reset(rule: String, key: String)
        case report(ReportBody)
        case release(ReleaseRequest)
    }

    /// - Parameter adminEnabled: false turns off `/v1/rules*` and `/v1/reload` (`--no-admin`).
    /// - Parameter parseRule: validates a `PUT /v1/rules/{name}` body as the configuration file's
    ///   rule (the app passes RateLimitConfig's, whose errors name JSON paths).
    public init(
        pipeline: DecisionPipeline, observer: (any APIObserver)? = nil, parseRule: @escaping RuleParser,
        reloader: (any RulesReloading)?, adminEnabled: Bool = true
    ) {
        self.pipeline = pipeline
        self.observer = observer
        self.parseRule = parseRule
        self.reloader = reloader
        self.adminEnabled = adminEnabled
    }

    /// Answers one request: now, or later when a remote store decides it.
    public func answer(_ request: HTTPRequest, allocator: ByteBufferAllocator, eventLoop: any EventLoop) -> HTTPAnswer {
        let started = NIODeadline.now()
        var response = HTTPResponse(status: .ok, headers: allocator.buffer(capacity: 128), body: allocator.buffer(capacity: 160))
        let routed: Routed
        do {
            routed = try route(request, into: &response)
        } catch {
            Self.fail(error, request, into: &response)
            return .now(response)
        }
        switch routed {
        case .answered(let endpoint):
            record(endpoint, since: started)
            return .now(response)
        case .decide(let endpoint, let checks, let commit, let explain):
            return Self.answer(pipeline.decide(checks, commit: commit), response, on: eventLoop) { result, response in
                self.render(result, checks, explain, request, endpoint, started, into: &response)
            }
        case .report(let body):
            return Self.answer(pipeline.report(body.reports), response, on: eventLoop) { result, response in
                self.render(result, body, request, started, into: &response)
            }
        case .reset(let rule, let key):
            return Self.answer(pipeline.reset(rule: rule, key: key), response, on: eventLoop) { result, response in
                self.render(result, .reset, request, started, into: &response) { _, response in response.body.writeStaticString("{\"reset\":true}") }
            }
        case .release(let release):
            return Self.answer(pipeline.release(release), response, on: eventLoop) { result, response in
                self.render(result, .release, request, started, into: &response) { d, response in response.body.writeRelease(d, lease: release.lease) }
            }
        }
    }

    /// A pipeline step's answer: rendered now (memory), or when the remote store answers.
    private static func answer<Value: Sendable>(
        _ step: PipelineStep<Value>, _ template: HTTPResponse, on eventLoop: any EventLoop,
        _ render: @escaping @Sendable (Result<Value, PipelineError>, inout HTTPResponse) -> Void
    ) -> HTTPAnswer {
        switch step {
        case .now(let result):
            var response = template
            render(result, &response)
            return .now(response)
        case .later(let call):
            return later(call, template, on: eventLoop, render)
        }
    }

    private func render(
        _ result: Result<[Report], PipelineError>, _ body: ReportBody, _ request: HTTPRequest, _ started: NIODeadline,
        into response: inout HTTPResponse
    ) {
        render(result, .report, request, started, into: &response) { reports, response in
            guard !body.single else {
                response.body.writeReport(reports.first ?? Report(limit: 0, period: 0, remaining: 0, resetAfter: 0, retryAfter: 0, debt: 0))
                return
            }
            response.body.writeStaticString("{\"results\":[")
            for (i, (report, asked)) in zip(reports, body.reports).enumerated() {
                if i > 0 { response.body.writeStaticString(",") }
                response.body.writeReport(report, rule: asked.rule, key: asked.key)
            }
            response.body.writeStaticString("]}")
        }
    }

    /// A pipeline answer: `success` writes what it returned; a refusal becomes its error status.
    /// The endpoint's latency counts every answer but a caller's error and a shed call.
    private func render<Value>(
        _ result: Result<Value, PipelineError>, _ endpoint: Endpoint, _ request: HTTPRequest, _ started: NIODeadline,
        into response: inout HTTPResponse, success: (Value, inout HTTPResponse) -> Void
    ) {
        switch result {
        case .success(let value): success(value, &response)
        case .failure(let error):
            Self.fail(APIError(error), request, into: &response)
            if case .invalid = error { return }
            if case .shed = error { return }
        }
        record(endpoint, since: started)
    }

    /// Runs a remote call; its answer is rendered into a copy of `template` on `eventLoop`.
    private static func later<Value: Sendable>(
        _ call: PendingCall<Value>, _ template: HTTPResponse, on eventLoop: any EventLoop,
        _ render: @escaping @Sendable (Result<Value, PipelineError>, inout HTTPResponse) -> Void
    ) -> HTTPAnswer {
        let promise = eventLoop.makePromise(of: HTTPResponse.self)
        call.run(affinity: ObjectIdentifier(eventLoop)) { result in
            var response = template
            render(result, &response)
            promise.succeed(response)
        }
        return .later(promise.futureResult)
    }

    private func record(_ endpoint: Endpoint, since started: NIODeadline) {
        observer?.answered(endpoint, nanoseconds: (NIODeadline.now() - started).nanoseconds)
    }

    private func render(
        _ result: Result<Verdict, PipelineError>, _ checks: Checks, _ explain: Bool, _ request: HTTPRequest, _ endpoint: Endpoint,
        _ started: NIODeadline, into response: inout HTTPResponse
    ) {
        render(result, endpoint, request, started, into: &response) { verdict, response in
            switch (verdict, checks) {
            case (.one(let decision), .one(let check)):
                Self.answer(decision, rule: check.rule, explain: explain ? limiter.explain(check, decision) : nil, into: &response)
            case (_, .batch(let requests)):
                answer(verdict.batch, requests, explain: explain, into: &response)
            case (.batch(let batch), .one(let check)):
                answer(batch, [check], explain: explain, into: &response)
            }
        }
    }

    private static func fail(_ error: APIError, _ request: HTTPRequest, into response: inout HTTPResponse) {
        response.status = error.status
        response.headers.clear()
        response.body.clear()
        response.body.writeError(error.message)
        if error.status == .methodNotAllowed { response.addHeader("Allow", APIMethods.allowHeader(request.path)) }
        if error.status == .serviceUnavailable { response.addHeader("Retry-After", "1") }
    }

    private func route(_ request: HTTPRequest, into response: inout HTTPResponse) throws(APIError) -> Routed {
        if APIMethods.route(request.path)?.admin == true { try requireAdmin() }
        try APIMethods.require(request)
        switch request.path {
        case "/v1/check":
            let (checks, explain) = try CheckBody.decodeRequest(request.body)
            return .decide(.check, checks, commit: true, explain: explain)
        case "/v1/status":
            let (check, explain) = try Self.statusQuery(request.query)
            return .decide(.status, .one(check), commit: false, explain: explain)
        case "/v1/reset":
            let body = try ResetBody.decode(request.body)
            return .reset(rule: body.rule, key: body.key)
        case "/v1/report":
            return .report(try ReportBody.decode(request.body))
        case "/v1/release":
            return .release(try ReleaseBody.decode(request.body))
        case "/v1/top":
            try topKeys(query: request.query, into: &response)
            return .answered(.top)
        case "/v1/reload":
            guard let reloader else { throw APIError(.conflict, "no configuration file to reload") }
            switch reloader.reload(reason: "api") {
            case .success(let count):
                response.body.writeStaticString("{\"reloaded\":true,\"rules\":")
                response.body.writeDecimal(Int64(count))
                response.body.writeStaticString("}")
            case .failure(let error):
                throw error.apiError
            }
            return .answered(.reload)
        case "/v1/rules":
            response.body.writeStaticString("{\"rules\":[")
            for (i, rule) in limiter.rules.rules.enumerated() {
                if i > 0 { response.body.writeStaticString(",") }
                response.body.writeRule(rule)
            }
            response.body.writeStaticString("]}")
            return .answered(.rules)
        default:
            if request.path.hasPrefix("/v1/rules/") {
                try ruleAdmin(request, name: String(request.path.dropFirst("/v1/rules/".count)), into: &response)
                return .answered(.rules)
            }
            throw APIError(.notFound, "no such endpoint: \(request.path)")
        }
    }

    private func requireAdmin() throws(APIError) {
        guard adminEnabled else { throw APIError(.forbidden, "admin endpoints are disabled (--no-admin)") }
    }

    // MARK: check and status

    /// The check a `/v1/status?rule=R&key=K[&cost=N]` query asks about.
    static func statusRequest(query: String) throws(APIError) -> CheckRequest {
        try statusQuery(query).check
    }

    /// The check a status query asks about, and its `explain=1`.
    static func statusQuery(_ query: String) throws(APIError) -> (check: CheckRequest, explain: Bool) {
        let params = try QueryString.parsed(query)
        var explain = false
        if let text = params["explain"] {
            switch text {
            case "1", "true": explain = true
            case "0", "false": explain = false
            default: throw .badRequest("explain must be 1 or 0")
            }
        }
        return (try statusCheck(params), explain)
    }

    private static func statusCheck(_ params: [String: String]) throws(APIError) -> CheckRequest {
        guard let rule = params["rule"] else { throw .badRequest("missing query parameter rule") }
        guard let key = params["key"] else { throw .badRequest("missing query parameter key") }
        // A status asks about now: without `cost` it reports the quota as it stands (issue 15);
        // `cost=N` asks whether N would be allowed now.
        var cost: Int64 = 0
        if let text = params["cost"] {
            guard text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int64(text), n <= Limits.maxLimit else {
                throw .badRequest("cost must be an integer from 0 to \(Limits.maxLimit)")
            }
            cost = n
        }
        return CheckRequest(rule: rule, key: key, cost: cost)
    }

    /// `GET /v1/top?rule=R[&by=requests|denied][&n=K]`: the rule's heaviest keys, each with its
    /// count (an upper bound) and error (the true count is in count − error … count).
    private func topKeys(query: String, into response: inout HTTPResponse) throws(APIError) {
        let params = try QueryString.parsed(query)
        guard let rule = params["rule"] else { throw .badRequest("missing query parameter rule") }
        guard let ranking = TopKeys.Ranking(rawValue: params["by"] ?? "requests") else {
            throw .badRequest("by must be requests or denied")
        }
        var n = 10
        if let text = params["n"] {
            guard text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let value = Int(text), (1...1000).contains(value) else {
                throw .badRequest("n must be an integer from 1 to 1000")
            }
            n = value
        }
        let report: TopKeys.Report?
        do { report = try limiter.topKeys(rule: rule, by: ranking, n: n) } catch { throw APIError(error) }
        guard let report else { throw APIError(.conflict, "top keys are not kept (--top-keys 0)") }
        response.body.writeStaticString("{\"rule\":")
        response.body.writeJSONString(rule)
        response.body.writeStaticString(ranking == .requests ? ",\"by\":\"requests\"" : ",\"by\":\"denied\"")
        response.body.writeStaticString(",\"covering_ms\":")
        response.body.writeDecimal(report.covering / 1_000_000)
        response.body.writeStaticString(",\"untracked_max\":")
        response.body.writeDecimal(report.untrackedBound)
        response.body.writeStaticString(",\"keys\":[")
        for (i, ranked) in report.keys.enumerated() {
            response.body.writeStaticString(i == 0 ? "{\"key\":" : ",{\"key\":")
            response.body.writeJSONString(ranked.key)
            response.body.writeStaticString(",\"count\":")
            response.body.writeDecimal(ranked.count)
            response.body.writeStaticString(",\"error\":")
            response.body.writeDecimal(ranked.error)
            response.body.writeStaticString("}")
        }
        response.body.writeStaticString("]}")
    }

    /// 200 or 429 with the decision body and the RateLimit headers.
    static func answer(_ d: Decision, rule: String, explain: Explanation? = nil, into response: inout HTTPResponse) {
        response.status = d.allowed ? .ok : .tooManyRequests
        response.body.writeDecision(d, explain: explain)
        response.headers.writeRateLimitHeaders(CollectionOfOne((rule, d)))
        if !d.allowed { response.headers.writeRetryAfter(d.retryAfter) }
    }

    func answer(_ batch: BatchDecision, _ requests: [CheckRequest], explain: Bool = false, into response: inout HTTPResponse) {
        response.status = batch.allowed ? .ok : .tooManyRequests
        response.body.writeStaticString(batch.allowed ? "{\"allowed\":true,\"results\":[" : "{\"allowed\":false,\"results\":[")
        for (i, d) in batch.decisions.enumerated() {
            if i > 0 { response.body.writeStaticString(",") }
            response.body.writeDecision(
                d, rule: requests[i].rule, key: requests[i].key, explain: explain ? limiter.explain(requests[i], d) : nil)
        }
        response.body.writeStaticString("]}")
        response.headers.writeRateLimitHeaders(zip(requests.lazy.map(\.rule), batch.decisions))
        if !batch.allowed {
            response.headers.writeRetryAfter(batch.decisions.filter { !$0.allowed }.map(\.retryAfter).max() ?? 0)
        }
    }

    // MARK: rule admin

    private func ruleAdmin(_ request: HTTPRequest, name: String, into response: inout HTTPResponse) throws(APIError) {
        switch request.method {
        case .get, .head:
            guard let rule = limiter.rules[name] else { throw APIError(.notFound, "unknown rule \"\(name)\"") }
            response.body.writeRule(rule)
        case .put:
            let rule = try Self.decodeRule(request.body, name: name, parse: parseRule)
            // Read, change and install as one step: concurrent PUTs all land (red team 2, F11).
            var existed = false
            do {
                try limiter.update { (rules: RuleSet) throws(RuleError) -> RuleSet in
                    existed = rules[name] != nil
                    return try rules.upserting(rule)
                }
            } catch {
                throw APIError(.conflict, error.message)
            }
            response.status = existed ? .ok : .created
            response.body.writeRule(rule)
        case .delete:
            var existed = false
            limiter.update { (rules: RuleSet) -> RuleSet in
                existed = rules[name] != nil
                return existed ? rules.removing(name) : rules
            }
            guard existed else { throw APIError(.notFound, "unknown rule \"\(name)\"") }
            response.body.writeStaticString("{\"deleted\":")
            response.body.writeJSONString(name)
            response.body.writeStaticString("}")
        default:
            try APIMethods.require(request)  // an unlisted method: throws its 405
        }
    }

    /// A rule from a JSON body with the configuration file's fields; the name comes from the path.
    static func decodeRule(_ body: ByteBuffer, name: String, parse: RuleParser) throws(APIError) -> Rule {
        guard case .object(var fields) = try parseObject(body) else {
            throw .badRequest("the body must be a JSON object with the rule's fields")
        }
        if let given = fields.first(where: { $0.0 == "name" })?.1 {
            guard given == .string(name) else { throw .badRequest("name in the body must match the path") }
        } else {
            fields.insert(("name", .string(name)), at: 0)
        }
        do {
            return try parse(JSONValue.object(fields))
        } catch {
            throw .badRequest("\(error)")
        }
    }
}

/// `a=1&b=x%20y` → ["a": "1", "b": "x y"]; the first occurrence of a name wins; nil when any
/// escape is invalid (a bad escape is an error, never a missing parameter: red team 2, F22).
enum QueryString {
    /// `parse`, with a bad escape as a 400 saying so.
    static func parsed(_ query: String) throws(APIError) -> [String: String] {
        guard let params = parse(query) else {
            throw .badRequest("the query has an invalid percent-escape or is not UTF-8 (use %XX with two hex digits)")
        }
        return params
    }

    static func parse(_ query: String) -> [String: String]? {
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else { return nil }
            if out[name] == nil { out[name] = value }
        }
        return out
    }

    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            switch b {
            case UInt8(ascii: "+"): bytes.append(32)
            case UInt8(ascii: "%"):
                // Two hex digits exactly: `UInt8(_:radix:)` alone would take a sign (`%+1`).
                guard let h = it.next(), let l = it.next(), isHex(h), isHex(l),
                      let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else {
                    return nil
                }
                bytes.append(v)
            default: bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (48...57).contains(b) || (65...70).contains(b) || (97...102).contains(b)
    }
}
