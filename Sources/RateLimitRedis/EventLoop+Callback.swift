public import NIOCore

extension EventLoop {
    /// A future answered by `start`'s callback: the future face of the callback-based calls
    /// (the hot path answers through the callback and makes no promise).
    func future<Value: Sendable>(_ start: (@escaping @Sendable (Result<Value, any Error>) -> Void) -> Void) -> EventLoopFuture<Value> {
        let promise = makePromise(of: Value.self)
        start { promise.completeWith($0) }
        return promise.futureResult
    }
}
