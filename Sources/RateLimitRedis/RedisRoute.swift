import NIOCore

/// Where each command goes: one server (plain, TLS, Sentinel's current master) or, on Cluster,
/// the master of the command's slot.
protocol RedisRoute: Sendable {
    /// Sends one command about `key` (nil: any node will do), answered within `timeout`.
    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue>
    /// The same, answered to `reply` (exactly once, on any loop) instead of a future: the hot
    /// path, without a promise where the route can do without.
    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop, reply: @escaping RESPReplyHandler)
    /// Starts whatever the route watches in the background (Sentinel: the master's address).
    func watch(on eventLoop: any EventLoop)
    func close() async
}

extension RedisRoute {
    func watch(on eventLoop: any EventLoop) {}

    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop, reply: @escaping RESPReplyHandler) {
        send(arguments, key: key, timeout: timeout, on: eventLoop).whenComplete(reply)
    }
}

/// Makes one connection to `address` on `eventLoop`, with the store's login and setup commands.
typealias ConnectionFactory = @Sendable (_ address: RedisEndpoint.Address, _ eventLoop: any EventLoop) -> RedisConnection

/// One server: a connection per event loop, each pipelining every command sent on its loop.
final class SingleNodeRoute: RedisRoute {
    private let connections: [RedisConnection]
    private let byLoop: [ObjectIdentifier: Int]

    init(group: any EventLoopGroup, connect: (any EventLoop) -> RedisConnection) {
        var connections: [RedisConnection] = []
        var byLoop: [ObjectIdentifier: Int] = [:]
        for loop in group.makeIterator() {
            byLoop[ObjectIdentifier(loop)] = connections.count
            connections.append(connect(loop))
        }
        self.connections = connections
        self.byLoop = byLoop
    }

    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        connection(on: eventLoop).send(arguments, timeout: timeout)
    }

    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop, reply: @escaping RESPReplyHandler) {
        connection(on: eventLoop).send(arguments, timeout: timeout, reply: reply)
    }

    /// The connection of `eventLoop` (the first one for a loop outside the group).
    private func connection(on eventLoop: any EventLoop) -> RedisConnection {
        connections[byLoop[ObjectIdentifier(eventLoop)] ?? 0]
    }

    /// Drops every connection (they reconnect on next use): Sentinel reports a new master.
    func reconnect() {
        for connection in connections { connection.drop() }
    }

    func close() async {
        for connection in connections { try? await connection.close().get() }
    }
}
