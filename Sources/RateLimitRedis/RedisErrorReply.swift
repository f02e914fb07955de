/// A Redis error reply (`-ERR …`, `-WRONGTYPE …`, `-CROSSSLOT …`): Redis answered, so the
/// connection is fine; the request is answered by `on_failure`, but the breaker is not told.
public struct RedisErrorReply: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public var description: String { "Redis replied \(message)" }
}

extension Result {
    var isErrorReply: Bool {
        if case .failure(let error) = self { return error is RedisErrorReply }
        return false
    }
}
