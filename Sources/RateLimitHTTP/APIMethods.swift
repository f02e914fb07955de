/// The API's paths: the methods each accepts and whether it is an admin path. One table for the
/// method check, the 405's message and its `Allow` header, and the `--no-admin` check, shared
/// by the synchronous and the remote (Redis) answers.
enum APIMethods {
    /// The methods `path` accepts (HEAD wherever GET is) and whether it is an admin path; nil for
    /// a path the API does not have.
    static func route(_ path: String) -> (methods: [HTTPMethod], admin: Bool)? {
        switch path {
        case "/v1/check", "/v1/reset", "/v1/report", "/v1/release": ([.post], false)
        case "/v1/status", "/v1/top": ([.get, .head], false)
        case "/v1/reload": ([.post], true)
        case "/v1/rules": ([.get, .head], true)
        default: path.hasPrefix("/v1/rules/") ? ([.get, .head, .put, .delete], true) : nil
        }
    }

    /// Throws 405 unless `request`'s method is accepted for its path (an unknown path passes).
    static func require(_ request: HTTPRequest) throws(APIError) {
        guard let methods = route(request.path)?.methods, !methods.contains(request.method) else { return }
        let path = request.path.hasPrefix("/v1/rules/") ? "/v1/rules/{name}" : request.path
        let names = methods.filter { $0 != .head }.map(\.name)
        let list = names.count > 1 ? names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "") : names.joined()
        throw APIError(.methodNotAllowed, "use \(list) for \(path)")
    }

    /// The `Allow` header of a 405 for `path`.
    static func allowHeader(_ path: String) -> String {
        (route(path)?.methods ?? []).map(\.name).joined(separator: ", ")
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
