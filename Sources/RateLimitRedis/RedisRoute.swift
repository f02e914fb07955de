import NIOCore

/// Where each command goes: one server (plain, TLS, Sentinel's current master) or, on Cluster,
/// the master of the command's slot.
protocol RedisRoute: Sendable {
    /// Sends one command about `key` (nil: any node will do), answered within `timeout`.
    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue>
    /// Starts whatever the route watches in the background (Sentinel: the master's address).
    func watch(on eventLoop: any EventLoop)
    func close() async
}

extension RedisRoute {
    func watch(on eventLoop: any EventLoop) {}
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
        connections[byLoop[ObjectIdentifier(eventLoop)] ?? 0].send(arguments, timeout: timeout)
    }

    /// Drops every connection (they reconnect on next use): Sentinel reports a new master.
    func reconnect() {
        for connection in connections { connection.drop() }
    }

    func close() async {
        for connection in connections { try? await connection.close().get() }
    }
}
