import Glibc
import NIOCore
import SluiceApp
public import RateLimitRedis

/// A small blocking Redis client for tests, on the project's own RESP encoder and decoder: it
/// writes commands (pipelined) on one TCP connection and reads their replies in order. An error
/// reply is returned as `.error`, not thrown; only the connection failing throws.
public final class RedisTestClient {
    public struct Failure: Error, CustomStringConvertible { public var description: String }

    private let fd: Int32
    private var pending = ByteBuffer()
    private let decoder = RESPDecoder()

    /// Connects to 127.0.0.1:`port`; a reply that takes longer than `replyTimeoutSeconds` fails.
    public init(port: Int, replyTimeoutSeconds: Int = 30) throws {
        do { fd = try BlockingHTTPClient.connectLoopback(port: port) } catch { throw Failure(description: error.description) }
        var timeout = timeval(tv_sec: replyTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends every command in one write and returns their replies in order.
    public func pipeline(_ commands: [[String]]) throws -> [RESPValue] {
        var out = ByteBuffer()
        for command in commands { RESPEncoder.write(command, into: &out) }
        let bytes = Array(out.readableBytesView)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "write failed: errno \(errno)") }
            offset += n
        }
        return try commands.map { _ in try read() }
    }

    /// One command's reply.
    public func call(_ command: String...) throws -> RESPValue { try pipeline([command])[0] }

    /// One command's reply; an error reply throws.
    public func callOK(_ command: [String]) throws -> RESPValue {
        let reply = try pipeline([command])[0]
        if case .error(let message) = reply { throw Failure(description: "\(command.prefix(2)): \(message)") }
        return reply
    }

    private func read() throws -> RESPValue {
        while true {
            if let value = try decoder.next(&pending) { return value }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(description: n == 0 ? "redis closed the connection" : "no reply in time (errno \(errno))") }
            pending.writeBytes(chunk[..<n])
        }
    }
}

extension RESPValue {
    /// The integer, or nil for another kind of value.
    public var int: Int64? { if case .integer(let n) = self { n } else { nil } }

    /// The array's elements, or nil for another kind of value (or a null array).
    public var values: [RESPValue]? { if case .array(let values?) = self { values } else { nil } }

    /// The bulk string's bytes (nil for a null bulk string or another kind of value).
    public var bytes: [UInt8]? { if case .bulkString(let buffer?) = self { Array(buffer.readableBytesView) } else { nil } }

    /// A simple or bulk string as text.
    public var text: String? {
        switch self {
        case .simpleString(let s): s
        case .bulkString(let buffer?): String(buffer: buffer)
        default: nil
        }
    }
}
