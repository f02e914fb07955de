import NIOCore
import NIOSSL
import Synchronization

/// Asks the sentinels, in turn, where the master named `master` is
/// (`SENTINEL GET-MASTER-ADDR-BY-NAME`), over one connection per sentinel.
final class SentinelResolver: Sendable {
    let masterName: String
    private let sentinels: [RedisEndpoint.Address]
    private let password: String?
    private let tls: (NIOSSLContext, RedisTLS)?
    private let timeout: TimeAmount
    private let connect: @Sendable (RedisEndpoint.Address, any EventLoop) -> RedisConnection
    private let connections = Mutex<[RedisEndpoint.Address: RedisConnection]>([:])
    private let known = Mutex<RedisEndpoint.Address?>(nil)

    /// For a `.sentinel` topology, else nil.
    convenience init?(_ endpoint: RedisEndpoint, timeout: TimeAmount, tlsContext: NIOSSLContext?) {
        guard case .sentinel(let master, let sentinels, let password) = endpoint.topology else { return nil }
        self.init(master: master, sentinels: sentinels, password: password, timeout: timeout, endpoint: endpoint, tlsContext: tlsContext)
    }

    /// Sentinels speak TLS when the servers do (`endpoint.tls`), and log in with their own `password`.
    init(
        master: String, sentinels: [RedisEndpoint.Address], password: String?, timeout: TimeAmount, endpoint: RedisEndpoint,
        tlsContext: NIOSSLContext?
    ) {
        masterName = master
        self.sentinels = sentinels
        self.password = password
        self.tls = tlsContext.flatMap { context in endpoint.tls.map { (context, $0) } }
        self.timeout = timeout
        let setup: [[String]] = password.map { [["AUTH", $0]] } ?? []
        connect = { address, loop in
            var sentinel = endpoint
            sentinel.address = address
            return RedisConnection(
                endpoint: sentinel, tlsContext: tlsContext, eventLoop: loop, connectTimeout: timeout, setup: { setup }, onSetup: { _ in })
        }
    }

    /// The master's address as last reported (nil before the first answer).
    var current: RedisEndpoint.Address? { known.withLock { $0 } }

    /// A `+switch-master` subscription that records the new master and calls `onSwitch`.
    func subscription(on eventLoop: any EventLoop, onSwitch: @escaping @Sendable () -> Void) -> SentinelSubscription {
        SentinelSubscription(
            sentinels: sentinels, master: masterName, password: password, tls: tls, retry: .seconds(1), eventLoop: eventLoop
        ) { address in
            let changed = self.known.withLock { known in
                defer { known = address }
                return known != address
            }
            if changed { onSwitch() }
        }
    }

    /// Asks the sentinels now; the first that names the master wins.
    func master(on eventLoop: any EventLoop) -> EventLoopFuture<RedisEndpoint.Address> {
        ask(sentinels[...], on: eventLoop, lastError: nil).map { address in
            self.known.withLock { $0 = address }
            return address
        }
    }

    private func ask(
        _ candidates: ArraySlice<RedisEndpoint.Address>, on eventLoop: any EventLoop, lastError: (any Error)?
    ) -> EventLoopFuture<RedisEndpoint.Address> {
        guard let sentinel = candidates.first else {
            return eventLoop.makeFailedFuture(lastError ?? RedisConnectionError.unavailable("no sentinel knows master \(masterName)"))
        }
        let connection = connections.withLock { known in
            if let existing = known[sentinel] { return existing }
            let made = connect(sentinel, eventLoop)
            known[sentinel] = made
            return made
        }
        return connection.send(["SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName], timeout: timeout)
            .flatMapThrowing { try Self.address($0) }
            .flatMapError { error in self.ask(candidates.dropFirst(), on: eventLoop, lastError: error) }
            .hop(to: eventLoop)
    }

    /// `[host, port]` as bulk strings; a null array means the sentinel does not know the name.
    static func address(_ reply: RESPValue) throws(RedisConnectionError) -> RedisEndpoint.Address {
        guard case .array(let parts?) = reply, parts.count == 2,
              case .bulkString(let host?) = parts[0], case .bulkString(let port?) = parts[1],
              let number = Int(String(buffer: port)), (1...65535).contains(number), host.readableBytes > 0
        else { throw .unavailable("the sentinel does not name the master (\(reply))") }
        return .tcp(host: String(buffer: host), port: number)
    }

    /// Refuses a server whose `ROLE` is not master: a replica, or a demoted master.
    static func requireMaster(_ reply: RESPValue) throws(RedisConnectionError) {
        guard case .array(let parts?) = reply, case .bulkString(let role?) = parts.first else {
            throw .protocolError("ROLE returned \(reply)")
        }
        guard String(buffer: role) == "master" else { throw .unavailable("the server Sentinel named is a \(String(buffer: role)), not the master") }
    }

    func close() async {
        for connection in connections.withLock({ Array($0.values) }) { try? await connection.close().get() }
    }
}

/// The master behind Sentinel: one server whose address is asked of the sentinels on every
/// (re)connection, checked with `ROLE` on connecting, and watched: a `+switch-master`
/// subscription, and every `interval` the sentinels asked again (the safety net while the
/// subscription is down); when they name another master, every connection is dropped and
/// reopened there. A `READONLY` reply (the master turned replica before the sentinels said
/// so) drops the connections at once.
final class SentinelRoute: RedisRoute {
    private let inner: SingleNodeRoute
    private let resolver: SentinelResolver
    private let interval: TimeAmount
    private let task = Mutex<RepeatedTask?>(nil)
    private let subscription = Mutex<SentinelSubscription?>(nil)

    init(inner: SingleNodeRoute, resolver: SentinelResolver, interval: TimeAmount) {
        self.inner = inner
        self.resolver = resolver
        self.interval = interval
    }

    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        eventLoop.future { send(arguments, key: key, timeout: timeout, on: eventLoop, reply: $0) }
    }

    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop, reply: @escaping RESPReplyHandler) {
        inner.send(arguments, key: key, timeout: timeout, on: eventLoop) { result in
            if case .success(.error(let message)) = result, message.contains("READONLY") { self.inner.reconnect() }
            reply(result)
        }
    }

    func watch(on eventLoop: any EventLoop) {
        let resolver = self.resolver
        let inner = self.inner
        let repeated = eventLoop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { _ in
            let before = resolver.current
            return resolver.master(on: eventLoop).map { now in
                if let before, before != now { inner.reconnect() }
            }.recover { _ in }
        }
        task.withLock { $0 = repeated }
        let subscribed = resolver.subscription(on: eventLoop) { inner.reconnect() }
        subscription.withLock { $0 = subscribed }
        subscribed.start()
    }

    func close() async {
        task.withLock { $0?.cancel(); $0 = nil }
        if let subscribed = subscription.withLock({ $0 }) { await subscribed.close() }
        await inner.close()
        await resolver.close()
    }
}
