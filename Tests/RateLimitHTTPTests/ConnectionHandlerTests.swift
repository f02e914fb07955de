import Foundation
import NIOCore
import NIOEmbedded
@testable import RateLimitHTTP
import Synchronization
import Testing

/// The HTTP connection on an embedded channel: answers in order, `100 Continue` in order.
@Suite struct ConnectionHandlerTests {
    private func channel(later: Bool) throws -> (EmbeddedChannel, EmbeddedEventLoop, () -> Void) {
        let loop = EmbeddedEventLoop()
        let pending = Mutex<[EventLoopPromise<HTTPResponse>]>([])
        let handler = HTTPConnectionHandler(
            responder: { _, allocator, eventLoop in
                var response = HTTPResponse(status: .ok, headers: allocator.buffer(capacity: 0), body: allocator.buffer(capacity: 8))
                response.body.writeString("{}")
                guard later else { return .now(response) }
                let promise = eventLoop.makePromise(of: HTTPResponse.self)
                pending.withLock { $0.append(promise) }
                return .later(promise.futureResult)
            },
            registry: ConnectionRegistry(maxConnections: 4), limits: .default, requestTimeout: .seconds(10), idleTimeout: .seconds(60))
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let answer = {
            var response = HTTPResponse(status: .ok, headers: channel.allocator.buffer(capacity: 0), body: channel.allocator.buffer(capacity: 8))
            response.body.writeString("{}")
            for p in pending.withLock({ $0 }) { p.succeed(response) }
        }
        return (channel, loop, answer)
    }

    private func statusLines(_ channel: EmbeddedChannel) throws -> [String] {
        var text = ""
        while let out = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: out) }
        // A status line can follow a body with no CRLF between them: split on the version.
        return text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { "HTTP/1.1 " + ($0.components(separatedBy: "\r\n").first ?? "") }
    }

    @Test(arguments: [false, true])
    func continueFollowsTheEarlierAnswer(later: Bool) throws {
        let (channel, _, answer) = try channel(later: later)
        let body = #"{"rule":"a","key":"k"}"#
        try channel.writeInbound(ByteBuffer(string:
            "POST /v1/check HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                + "POST /v1/check HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n"))
        answer()
        let first = try statusLines(channel)
        #expect(first == ["HTTP/1.1 200 OK", "HTTP/1.1 100 Continue"], "\(first)")
        try channel.writeInbound(ByteBuffer(string: body))
        answer()
        #expect(try statusLines(channel) == ["HTTP/1.1 200 OK"])
        _ = try? channel.finish()
    }
}

