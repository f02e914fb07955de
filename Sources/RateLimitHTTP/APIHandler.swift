public import NIOCore
import Prometheus
import RateLimitConfig
public import RateLimitCore
public import RateLimitMetrics
import Synchronization

/// The Unix-socket API (DESIGN.md §3): decides synchronously, never blocks.
public final class APIHandler: Sendable {
    enum Endpoint: String, CaseIterable {
        case check, status, reset, rules, reload
    }

    let limiter: RateLimiter
    let metrics: SluiceMetrics
    let reloader: ConfigReloader?
    let adminEnabled: Bool
    let maxInflight: Int
    /// Decides checks elsewhere (Redis); nil: the limiter's memory store, on the event loop.
    let remote: (any RemoteDecider)?
    private let inflight = Atomic<Int>(0)
    let durations: [DurationHistogram]

    /// - Parameters:
    ///   - adminEnabled: false turns off `/v1/rules*` and `/v1/reload` (`--no-admin`).
    ///   - maxInflight: requests being processed beyond this are refused with 503.
    ///   - remote: decides checks in a shared backend instead of the memory store.
    public init(
        limiter: RateLimiter, metrics: SluiceMetrics, reloader: ConfigReloader?, adminEnabled: Bool = true,
        maxInflight: Int = 4096, remote: (any RemoteDecider)? = nil
    ) {
        self.remote = remote
        self.limiter = limiter
        self.metrics = metrics
        self.reloader = reloader
        self.adminEnabled = adminEnabled
        self.maxInflight = maxInflight
        self.durations = Endpoint.allCases.map { metrics.duration(endpoint: $0.rawValue) }
    }

    /// Answers one request: now, or later when a remote backend decides it.
    public func answer(_ request: HTTPRequest, allocator: ByteBufferAllocator, eventLoop: any EventLoop) -> HTTPAnswer {
        guard let remote, let endpoint = Endpoint.remote(request.path) else {
            return .now(handle(request, allocator: allocator))
        }
        let count = inflight.wrappingAdd(1, ordering: .relaxed).newValue
        metrics.inflight.set(to: Double(count))
        let started = NIODeadline.now()
        let future = remoteAnswer(request, endpoint, remote, count: count, allocator: allocator, eventLoop: eventLoop)
        return .later(future.always { result in
            let after = self.inflight.wrappingSubtract(1, ordering: .relaxed).newValue
            self.metrics.inflight.set(to: Double(after))
            if case .success(let response) = result, response.status != .serviceUnavailable || count <= self.maxInflight {
                self.durations[Endpoint.allCases.firstIndex(of: endpoint) ?? 0].recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            }
        })
    }

    /// Answers one request synchronously, with the memory store.
    public func handle(_ request: HTTPRequest, allocator: ByteBufferAllocator) -> HTTPResponse {
        let count = inflight.wrappingAdd(1, ordering: .relaxed).newValue
        metrics.inflight.set(to: Double(count))
        defer {
            let after = inflight.wrappingSubtract(1, ordering: .relaxed).newValue
            metrics.inflight.set(to: Double(after))
        }
        var response = HTTPResponse(status: .ok, headers: allocator.buffer(capacity: 128), body: allocator.buffer(capacity: 160))
        if count > maxInflight {
            metrics.shed.increment()
            response.status = .serviceUnavailable
            response.addHeader("Retry-After", "1")
            response.body.writeError("too many requests in flight (cap \(maxInflight)); retry shortly")
            return response
        }
        let started = NIODeadline.now()
        let endpoint: Endpoint?
        do {
            endpoint = try route(request, into: &response)
        } catch {
            endpoint = nil
            response.status = error.status
            response.body.clear()
            response.body.writeError(error.message)
            if error.status == .methodNotAllowed { response.addHeader("Allow", APIMethods.allowHeader(request.path)) }
        }
        if let endpoint {
            let elapsed = NIODeadline.now() - started
            durations[Endpoint.allCases.firstIndex(of: endpoint) ?? 0].recordNanoseconds(elapsed.nanoseconds)
        }
        return response
    }

    private func route(_ request: HTTPRequest, into response: inout HTTPResponse) throws(APIError) -> Endpoint? {
        if APIMethods.route(request.path)?.admin == true { try requireAdmin() }
        try APIMethods.require(request)
        switch request.path {
        case "/v1/check":
            try check(request.body, into: &response)
            return .check
        case "/v1/status":
            try status(query: request.query, into: &response)
            return .status
        case "/v1/reset":
            let body = try ResetBody.decode(request.body)
            do { try limiter.reset(rule: body.rule, key: body.key) } catch { throw APIError(error) }
            response.body.writeStaticString("{\"reset\":true}")
            return .reset
        case "/v1/reload":
            guard let reloader else { throw APIError(.conflict, "no configuration file to reload") }
            switch reloader.reload(reason: "api") {
            case .success(let count):
                response.body.writeStaticString("{\"reloaded\":true,\"rules\":")
                response.body.writeDecimal(Int64(count))
                response.body.writeStaticString("}")
            case .failure(let error):
                throw error
            }
            return .reload
        case "/v1/rules":
            response.body.writeStaticString("{\"rules\":[")
            for (i, rule) in limiter.rules.rules.enumerated() {
                if i > 0 { response.body.writeStaticString(",") }
                response.body.writeRule(rule)
            }
            response.body.writeStaticString("]}")
            return .rules
        default:
            if request.path.hasPrefix("/v1/rules/") {
                try ruleAdmin(request, name: String(request.path.dropFirst("/v1/rules/".count)), into: &response)
                return .rules
            }
            throw APIError(.notFound, "no such endpoint: \(request.path)")
        }
    }

    private func requireAdmin() throws(APIError) {
        guard adminEnabled else { throw APIError(.forbidden, "admin endpoints are disabled (--no-admin)") }
    }

    // MARK: check and status

    private func check(_ body: ByteBuffer, into response: inout HTTPResponse) throws(APIError) {
        switch try CheckBody.decode(body) {
        case .single(let request):
            let decision: Decision
            do { decision = try limiter.check(request) } catch { throw APIError(error) }
            Self.answer(decision, rule: request.rule, into: &response)
        case .batch(let requests):
            let batch: BatchDecision
            do { batch = try limiter.check(batch: requests) } catch { throw APIError(error) }
            answer(batch, requests, into: &response)
        }
    }

    private func status(query: String, into response: inout HTTPResponse) throws(APIError) {
        let request = try Self.statusRequest(query: query)
        do {
            let decision = try limiter.status(request)
            Self.answer(decision, rule: request.rule, into: &response)
        } catch {
            throw APIError(error)
        }
    }

    /// The check a `/v1/status?rule=R&key=K[&cost=N]` query asks about.
    static func statusRequest(query: String) throws(APIError) -> CheckRequest {
        guard let params = QueryString.parse(query) else {
            throw .badRequest("the query has an invalid percent-escape or is not UTF-8 (use %XX with two hex digits)")
        }
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

    /// 200 or 429 with the decision body and the RateLimit headers.
    static func answer(_ d: Decision, rule: String, into response: inout HTTPResponse) {
        response.status = d.allowed ? .ok : .tooManyRequests
        response.body.writeDecision(d)
        response.headers.writeRateLimitHeaders(CollectionOfOne((rule, d)))
        if !d.allowed { response.headers.writeRetryAfter(d.retryAfter) }
    }

    func answer(_ batch: BatchDecision, _ requests: [CheckRequest], into response: inout HTTPResponse) {
        response.status = batch.allowed ? .ok : .tooManyRequests
        response.body.writeStaticString(batch.allowed ? "{\"allowed\":true,\"results\":[" : "{\"allowed\":false,\"results\":[")
        for (i, d) in batch.decisions.enumerated() {
            if i > 0 { response.body.writeStaticString(",") }
            response.body.writeDecision(d, rule: requests[i].rule, key: requests[i].key)
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
            let rule = try Self.decodeRule(request.body, name: name)
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
    static func decodeRule(_ body: ByteBuffer, name: String) throws(APIError) -> Rule {
        guard case .object(var fields) = try parseObject(body) else {
            throw .badRequest("the body must be a JSON object with the rule's fields")
        }
        if let given = fields.first(where: { $0.0 == "name" })?.1 {
            guard given == .string(name) else { throw .badRequest("name in the body must match the path") }
        } else {
            fields.insert(("name", .string(name)), at: 0)
        }
        do {
            return try ConfigLoader.parseRule(JSONValue.object(fields))
        } catch {
            throw .badRequest(error.description)
        }
    }
}

/// `a=1&b=x%20y` → ["a": "1", "b": "x y"]; the first occurrence of a name wins; nil when any
/// escape is invalid (a bad escape is an error, never a missing parameter: red team 2, F22).
enum QueryString {
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
