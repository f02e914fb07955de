public import NIOCore
public import RateLimitCore

/// A backend that decides elsewhere (Redis), asynchronously. Its futures fail only when the
/// backend is unavailable and its policy says to refuse (→ 503).
public protocol RemoteDecider: Sendable {
    /// Decides the checks that have a store item, in order, atomically.
    func decide(_ checks: [PreparedCheck], commit: Bool, on eventLoop: any EventLoop) -> EventLoopFuture<BatchDecision>
    /// Forgets one key's state.
    func reset(_ check: PreparedCheck, on eventLoop: any EventLoop) -> EventLoopFuture<Void>
}

extension APIHandler.Endpoint {
    /// The endpoints a remote backend answers; the rest (admin) stay synchronous.
    static func remote(_ path: String) -> Self? {
        switch path {
        case "/v1/check": .check
        case "/v1/status": .status
        case "/v1/reset": .reset
        default: nil
        }
    }
}

extension APIHandler {
    func remoteAnswer(
        _ request: HTTPRequest, _ endpoint: Endpoint, _ remote: any RemoteDecider, count: Int,
        allocator: ByteBufferAllocator, eventLoop: any EventLoop
    ) -> EventLoopFuture<HTTPResponse> {
        var response = HTTPResponse(status: .ok, headers: allocator.buffer(capacity: 128), body: allocator.buffer(capacity: 160))
        func fail(_ error: APIError) -> EventLoopFuture<HTTPResponse> {
            response.status = error.status
            response.body.clear()
            response.body.writeError(error.message)
            if error.status == .methodNotAllowed { response.addHeader("Allow", APIMethods.allowHeader(request.path)) }
            return eventLoop.makeSucceededFuture(response)
        }
        if count > maxInflight {
            metrics.shed.increment()
            response.addHeader("Retry-After", "1")
            return fail(APIError(.serviceUnavailable, "too many requests in flight (cap \(maxInflight)); retry shortly"))
        }
        do throws(APIError) {
            try APIMethods.require(request)
            switch endpoint {
            case .check:
                let requests: [CheckRequest]
                let single: Bool
                switch try CheckBody.decode(request.body) {
                case .single(let one): (requests, single) = ([one], true)
                case .batch(let many): (requests, single) = (many, false)
                }
                return try decide(requests, single: single, commit: true, remote, response, eventLoop)
            case .status:
                return try decide([try Self.statusRequest(query: request.query)], single: true, commit: false, remote, response, eventLoop)
            default:
                let body = try ResetBody.decode(request.body)
                let check: PreparedCheck
                do { check = try limiter.prepare(CheckRequest(rule: body.rule, key: body.key, cost: 0)) } catch { throw APIError(error) }
                let template = response
                return remote.reset(check, on: eventLoop).map {
                    var response = template
                    response.body.writeStaticString("{\"reset\":true}")
                    return response
                }.recover { error in
                    var response = template
                    Self.unavailable(error, into: &response)
                    return response
                }
            }
        } catch {
            return fail(error)
        }
    }

    private func decide(
        _ requests: [CheckRequest], single: Bool, commit: Bool, _ remote: any RemoteDecider, _ template: HTTPResponse,
        _ eventLoop: any EventLoop
    ) throws(APIError) -> EventLoopFuture<HTTPResponse> {
        let checks: [PreparedCheck]
        do {
            checks = single ? [try limiter.prepare(requests[0])] : try limiter.prepare(batch: requests)
        } catch {
            throw APIError(error)
        }
        let limiter = self.limiter
        return remote.decide(checks, commit: commit, on: eventLoop).map { stored in
            var response = template
            if single, let check = checks.first {
                let decision = limiter.finish(check, stored: stored.decisions.first, commit: commit)
                Self.answer(decision, rule: check.rule, into: &response)
            } else {
                self.answer(limiter.finish(batch: checks, stored: stored, commit: commit), requests, into: &response)
            }
            return response
        }.recover { error in
            var response = template
            Self.unavailable(error, into: &response)
            return response
        }
    }

    private static func unavailable(_ error: any Error, into response: inout HTTPResponse) {
        response.status = .serviceUnavailable
        response.headers.clear()
        response.addHeader("Retry-After", "1")
        response.body.clear()
        response.body.writeError("\(error)")
    }
}
