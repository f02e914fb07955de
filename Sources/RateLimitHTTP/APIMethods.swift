/// The methods each API path accepts: one table for the check, the 405's message and its
/// `Allow` header, shared by the synchronous and the remote (Redis) answers.
enum APIMethods {
    /// The methods `path` accepts (HEAD wherever GET is).
    static func allowed(_ path: String) -> [HTTPMethod] {
        switch path {
        case "/v1/check", "/v1/reset", "/v1/reload": [.post]
        case "/v1/status", "/v1/rules": [.get, .head]
        default: [.get, .head, .put, .delete]  // /v1/rules/{name}
        }
    }

    /// Throws 405 unless `request`'s method is accepted for its path.
    static func require(_ request: HTTPRequest) throws(APIError) {
        guard allowed(request.path).contains(request.method) else {
            let path = request.path.hasPrefix("/v1/rules/") ? "/v1/rules/{name}" : request.path
            let methods = allowed(request.path).filter { $0 != .head }.map(\.name)
            let list = methods.count > 1 ? methods.dropLast().joined(separator: ", ") + " or " + (methods.last ?? "") : methods.joined()
            throw APIError(.methodNotAllowed, "use \(list) for \(path)")
        }
    }

    /// The `Allow` header of a 405 for `path`.
    static func allowHeader(_ path: String) -> String {
        allowed(path).map(\.name).joined(separator: ", ")
    }
}

extension HTTPMethod {
    /// The method's token, as in a request line or an `Allow` header.
    var name: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .other: "OTHER"
        }
    }
}
