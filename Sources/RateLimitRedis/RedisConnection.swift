import NIOCore
import NIOPosix
import NIOSSL

/// One connection to Redis, owned by one event loop. It connects on first use, logs in and
/// runs the setup commands (AUTH, SELECT, SCRIPT LOAD), pipelines every command sent to it,
/// gives each a deadline, and after a failure reconnects with exponential backoff and jitter.
final class RedisConnection: Sendable {
    typealias State = RedisConnectionState<any Channel, EventLoopFuture<any Channel>>

    let eventLoop: any EventLoop
    private let endpoint: RedisEndpoint
    private let tlsContext: NIOSSLContext?
    private let connectTimeout: TimeAmount
    private let setup: @Sendable () -> [[String]]
    private let onSetup: @Sendable ([RESPValue]) throws -> Void
    private let resolve: (@Sendable (any EventLoop) -> EventLoopFuture<RedisEndpoint.Address>)?
    private let state: NIOLoopBoundBox<State>

    /// - Parameters:
    ///   - tlsContext: made once from `endpoint.tls` and shared by every connection.
    ///   - setup: the commands to send first on every new connection.
    ///   - onSetup: receives their replies (none of which is an error); throwing refuses the connection.
    ///   - resolve: where to connect, asked before every attempt (Sentinel); else `endpoint.address`.
    init(
        endpoint: RedisEndpoint, tlsContext: NIOSSLContext?, eventLoop: any EventLoop, connectTimeout: TimeAmount,
        setup: @escaping @Sendable () -> [[String]], onSetup: @escaping @Sendable ([RESPValue]) throws -> Void,
        resolve: (@Sendable (any EventLoop) -> EventLoopFuture<RedisEndpoint.Address>)? = nil
    ) {
        self.resolve = resolve
        self.endpoint = endpoint
        self.tlsContext = tlsContext
        self.eventLoop = eventLoop
        self.connectTimeout = connectTimeout
        self.setup = setup
        self.onSetup = onSetup
        self.state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: eventLoop)
    }

    /// Sends one command; its reply, or a `RedisConnectionError` once `timeout` has passed.
    /// A timed-out command closes the connection: a stalled Redis must not hold later commands.
    func send(_ arguments: [String], timeout: TimeAmount) -> EventLoopFuture<RESPValue> {
        eventLoop.future { send(arguments, timeout: timeout, reply: $0) }
    }

    /// Sends one command; `reply` receives its reply, or a `RedisConnectionError` once
    /// `timeout` has passed, exactly once, on this connection's event loop. The hot path: no
    /// future, no promise while connected.
    func send(_ arguments: [String], timeout: TimeAmount, reply: @escaping RESPReplyHandler) {
        var bytes = ByteBufferAllocator().buffer(capacity: 64 + arguments.reduce(0) { $0 + $1.utf8.count + 16 })
        RESPEncoder.write(arguments, into: &bytes)
        if eventLoop.inEventLoop {
            sendOnLoop(bytes, deadline: .now() + timeout, reply: reply)
        } else {
            let sendBytes = bytes
            eventLoop.execute { self.sendOnLoop(sendBytes, deadline: .now() + timeout, reply: reply) }
        }
    }

    private func sendOnLoop(_ bytes: ByteBuffer, deadline: NIODeadline, reply: @escaping RESPReplyHandler) {
        switch state.value.send(now: NIODeadline.now(), isActive: { $0.isActive }) {
        case .write(let channel, let scheduleFlush):
            // The common case: connected. The channel handler watches the deadline.
            write(RESPCommand(bytes: bytes, deadline: deadline, reply: reply), on: channel, scheduleFlush: scheduleFlush)
        case .fail(let error):
            reply(.failure(error))
        case .wait(let attempt):
            send(bytes, deadline: deadline, reply: reply, after: attempt)
        case .connect:
            send(bytes, deadline: deadline, reply: reply, after: connect())
        }
    }

    /// Sends once `attempt` has connected; the wait counts against the deadline too. The
    /// promise answers once, whichever of the timer and the connection comes first.
    private func send(_ bytes: ByteBuffer, deadline: NIODeadline, reply: @escaping RESPReplyHandler, after attempt: EventLoopFuture<any Channel>) {
        let promise = eventLoop.makePromise(of: RESPValue.self)
        promise.futureResult.whenComplete(reply)
        let timer = eventLoop.scheduleTask(deadline: deadline) { promise.fail(RedisConnectionError.timeout) }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        attempt.whenComplete { result in
            switch result {
            case .failure(let error): promise.fail(error)
            case .success:
                // A command whose deadline passed while connecting has had its answer (timeout).
                // Writing it anyway would make the new channel's watchdog close it at once, and
                // under steady traffic a connect slower than `timeout_ms` would never stay up.
                guard NIODeadline.now() < deadline else { return promise.fail(RedisConnectionError.timeout) }
                self.sendOnLoop(bytes, deadline: deadline) { promise.completeWith($0) }
            }
        }
    }

    /// Writes now; the first write of a tick schedules one flush at its end.
    private func write(_ command: RESPCommand, on channel: any Channel, scheduleFlush: Bool) {
        channel.write(command, promise: nil)
        guard scheduleFlush else { return }
        eventLoop.execute {
            let current = self.state.value.flushed()
            channel.flush()
            // A reconnect within this tick wrote to a new channel: flush that one too.
            if let current, current !== channel { current.flush() }
        }
    }

    /// Starts a connection attempt; the state follows its outcome.
    private func connect() -> EventLoopFuture<any Channel> {
        let attempt = connectOnce()
        state.value.connecting(attempt)
        attempt.whenComplete { result in
            switch result {
            case .success(let channel):
                if let stale = self.state.value.connected(channel) {
                    stale.close(promise: nil)  // closed meanwhile (shutdown)
                    return
                }
                channel.closeFuture.whenComplete { _ in self.state.value.closed(now: NIODeadline.now()) { $0 === channel } }
            case .failure(let error):
                self.state.value.connectFailed(error as? RedisConnectionError, now: NIODeadline.now(), jitter: .random(in: 0...UInt64.max))
            }
        }
        return attempt
    }

    private func connectOnce() -> EventLoopFuture<any Channel> {
        guard let resolve else { return connect(to: endpoint.address) }
        return resolve(eventLoop).flatMap { address in self.connect(to: address) }
    }

    private func connect(to address: RedisEndpoint.Address) -> EventLoopFuture<any Channel> {
        var tls: (NIOSSLContext, String?)?
        if let tlsContext, let settings = endpoint.tls, case .tcp(let host, _) = address {
            tls = (tlsContext, settings.hostname(for: host))
        }
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelInitializer { [tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let (context, hostname) = tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: hostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(RESPChannelHandler())
                }
            }
        let connected: EventLoopFuture<any Channel>
        switch address {
        case .tcp(let host, let port):
            connected = bootstrap.channelOption(.socketOption(.tcp_nodelay), value: 1).connect(host: host, port: port)
        case .unix(let path):
            connected = bootstrap.connect(unixDomainSocketPath: path)
        }
        let commands = setup()
        let onSetup = self.onSetup
        let eventLoop = self.eventLoop
        let timeout = connectTimeout
        return connected.flatMap { channel in
            let replies = commands.map { arguments in
                var bytes = channel.allocator.buffer(capacity: 256)
                RESPEncoder.write(arguments, into: &bytes)
                let reply = eventLoop.makePromise(of: RESPValue.self)
                channel.write(RESPCommand(bytes: bytes, promise: reply), promise: nil)
                return reply.futureResult
            }
            channel.flush()
            let timer = eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
            return EventLoopFuture.whenAllSucceed(replies, on: eventLoop).flatMapThrowing { values -> any Channel in
                timer.cancel()
                for (arguments, value) in zip(commands, values) {
                    if case .error(let message) = value {
                        // Never echo the arguments: AUTH carries the password.
                        throw RedisConnectionError.unavailable("\(arguments.first ?? "setup") failed: \(message)")
                    }
                }
                try onSetup(values)
                return channel
            }.flatMapErrorThrowing { error in
                timer.cancel()
                channel.close(promise: nil)
                throw error
            }
        }
    }

    /// Closes the current channel, failing what waits on it; the next command connects again
    /// at once (Sentinel named a new master, or this one turned replica).
    func drop() {
        eventLoop.execute { self.state.value.linkToDrop?.close(promise: nil) }
    }

    /// Closes the connection for good (shutdown): later commands fail at once with `.closed`.
    func close() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            guard let channel = self.state.value.close() else { return self.eventLoop.makeSucceededVoidFuture() }
            return channel.close().recover { _ in }
        }
    }
}
