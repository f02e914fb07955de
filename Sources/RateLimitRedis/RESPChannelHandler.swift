public import NIOCore

/// One command on its way: its encoded bytes and the promise its reply completes.
public struct RESPCommand {
    public var bytes: ByteBuffer
    public var promise: EventLoopPromise<RESPValue>

    public init(bytes: ByteBuffer, promise: EventLoopPromise<RESPValue>) {
        self.bytes = bytes
        self.promise = promise
    }
}

/// The replies a connection is owed, oldest first. Redis answers in order, so each reply
/// completes the oldest waiting promise. A value type, tested without a socket.
struct PendingReplies {
    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>(initialCapacity: 16)

    var count: Int { waiting.count }

    mutating func expect(_ promise: EventLoopPromise<RESPValue>) {
        waiting.append(promise)
    }

    /// The promise `reply` belongs to; nil for a reply nobody asked for (a protocol error).
    mutating func match() -> EventLoopPromise<RESPValue>? {
        waiting.popFirst()
    }

    /// Every promise still waiting (the connection is gone).
    mutating func drain() -> [EventLoopPromise<RESPValue>] {
        defer { waiting.removeAll() }
        return Array(waiting)
    }
}

/// Why a Redis call failed (never a Redis error reply: those are `RESPValue.error`).
public enum RedisConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    case closed
    case timeout
    case protocolError(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .closed: "the Redis connection closed"
        case .timeout: "Redis did not answer in time"
        case .protocolError(let why): "Redis protocol error: \(why)"
        case .unavailable(let why): "Redis unavailable: \(why)"
        }
    }
}

/// Writes commands, pipelined, and completes their promises with the replies in order.
final class RESPChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RESPCommand
    typealias OutboundOut = ByteBuffer

    private var pending = PendingReplies()
    private var buffer: ByteBuffer?
    private let decoder = RESPDecoder()

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let command = unwrapOutboundIn(data)
        pending.expect(command.promise)
        context.write(wrapOutboundOut(command.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil || buffer?.readableBytes == 0 {
            buffer = incoming
        } else {
            buffer?.writeBuffer(&incoming)
        }
        guard var input = buffer else { return }
        buffer = nil
        do {
            while let value = try decoder.next(&input) {
                guard let promise = pending.match() else {
                    throw RESPDecoder.Failure(description: "a reply nobody asked for")
                }
                promise.succeed(value)
            }
        } catch {
            failAll(RedisConnectionError.protocolError("\(error)"))
            context.close(promise: nil)
            return
        }
        if input.readableBytes > 0 {
            input.discardReadBytes()
            buffer = input
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisConnectionError.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(RedisConnectionError.unavailable("\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisConnectionError) {
        for promise in pending.drain() { promise.fail(error) }
    }
}
