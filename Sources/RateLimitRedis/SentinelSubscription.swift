import NIOCore
import NIOPosix
import NIOSSL

/// A subscription to `+switch-master` on one sentinel at a time: when a sentinel announces a
/// new master for our name, `onSwitch` gets its address at once (the once-a-second poll in
/// `SentinelRoute` stays as the safety net). A closed or failed subscription moves to the next
/// sentinel after `retry`.
final class SentinelSubscription: Sendable {
    private let sentinels: [RedisEndpoint.Address]
    private let master: String
    private let password: String?
    private let tls: (context: NIOSSLContext, settings: RedisTLS)?
    private let retry: TimeAmount
    private let eventLoop: any EventLoop
    private let onSwitch: @Sendable (RedisEndpoint.Address) -> Void
    /// The channel now subscribed, and which sentinel comes next; nil channel once closed for good.
    private let state: NIOLoopBoundBox<(channel: (any Channel)?, next: Int, closed: Bool)>

    init(
        sentinels: [RedisEndpoint.Address], master: String, password: String?, tls: (NIOSSLContext, RedisTLS)?, retry: TimeAmount,
        eventLoop: any EventLoop, onSwitch: @escaping @Sendable (RedisEndpoint.Address) -> Void
    ) {
        self.sentinels = sentinels
        self.master = master
        self.password = password
        self.tls = tls.map { (context: $0.0, settings: $0.1) }
        self.retry = retry
        self.eventLoop = eventLoop
        self.onSwitch = onSwitch
        state = NIOLoopBoundBox.makeBoxSendingValue((nil, 0, false), eventLoop: eventLoop)
    }

    /// Subscribes (and keeps subscribing after failures) until `close`.
    func start() {
        eventLoop.execute { self.subscribe() }
    }

    private func subscribe() {
        guard !state.value.closed, !sentinels.isEmpty else { return }
        let address = sentinels[state.value.next % sentinels.count]
        state.value.next += 1
        guard case .tcp(let host, let port) = address else { return }
        let master = self.master
        let onSwitch = self.onSwitch
        let tls = self.tls
        let commands: [[String]] = (password.map { [["AUTH", $0]] } ?? []) + [["SUBSCRIBE", "+switch-master"]]
        ClientBootstrap(group: eventLoop)
            .connectTimeout(retry)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls.context, serverHostname: tls.settings.hostname(for: host)))
                    }
                    try channel.pipeline.syncOperations.addHandler(SentinelPushHandler { message in
                        if let address = SentinelSubscription.switched(message, master: master) { onSwitch(address) }
                    })
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.state.value.channel = channel
                    var bytes = channel.allocator.buffer(capacity: 64)
                    for command in commands { RESPEncoder.write(command, into: &bytes) }
                    channel.writeAndFlush(bytes, promise: nil)
                    channel.closeFuture.whenComplete { _ in self.again() }
                case .failure:
                    self.again()
                }
            }
    }

    private func again() {
        state.value.channel = nil
        guard !state.value.closed else { return }
        eventLoop.scheduleTask(in: retry) { self.subscribe() }
    }

    /// The new master in a `+switch-master` message for `master`:
    /// `["message", "+switch-master", "NAME OLD_IP OLD_PORT NEW_IP NEW_PORT"]`; nil for anything else.
    static func switched(_ message: RESPValue, master: String) -> RedisEndpoint.Address? {
        guard case .array(let parts?) = message, parts.count == 3,
              case .bulkString(let kind?) = parts[0], String(buffer: kind) == "message",
              case .bulkString(let payload?) = parts[2]
        else { return nil }
        let words = String(buffer: payload).split(separator: " ")
        guard words.count == 5, words[0] == master, let port = Int(words[4]), (1...65535).contains(port) else { return nil }
        return .tcp(host: String(words[3]), port: port)
    }

    func close() async {
        let channel = try? await eventLoop.submit { () -> (any Channel)? in
            self.state.value.closed = true
            return self.state.value.channel
        }.get()
        if let channel = channel ?? nil { try? await channel.close().get() }
    }
}

/// Decodes what a subscribed connection receives and hands every value to `onMessage`; a
/// protocol error closes the connection (the subscription then moves to the next sentinel).
final class SentinelPushHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let onMessage: (RESPValue) -> Void
    private var buffer: ByteBuffer?
    private let decoder = RESPDecoder(maxArrayCount: 16)

    init(onMessage: @escaping (RESPValue) -> Void) {
        self.onMessage = onMessage
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer?.writeBuffer(&incoming) }
        guard var input = buffer else { return }
        do {
            while let value = try decoder.next(&input) { onMessage(value) }
        } catch {
            context.close(promise: nil)
            return
        }
        input.discardReadBytes()
        buffer = input.readableBytes > 0 ? input : nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
