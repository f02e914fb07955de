public import NIOCore
import Synchronization

/// Why a new connection cost another one its place, or was refused.
public enum ConnectionRejection: String, Sendable, CaseIterable {
    /// The longest-idle connection was closed to admit the new one.
    case idleDrained = "idle_drained"
    /// Every connection was busy answering: the new one was closed.
    case allBusy = "all_busy"

    /// Its position in `allCases`, without building `allCases` per connection.
    public var position: Int {
        switch self {
        case .idleDrained: 0
        case .allBusy: 1
        }
    }
}

/// The listeners whose connections are counted (the `listener` label).
public enum ConnectionListener: String, Sendable, CaseIterable {
    case api, metrics, grpc
}

/// What a listener reports about its connections (metrics live behind it).
public struct ConnectionObserver: Sendable {
    public var opened: @Sendable () -> Void
    public var closed: @Sendable () -> Void
    public var rejected: @Sendable (ConnectionRejection) -> Void

    public init(
        opened: @escaping @Sendable () -> Void, closed: @escaping @Sendable () -> Void,
        rejected: @escaping @Sendable (ConnectionRejection) -> Void
    ) {
        self.opened = opened
        self.closed = closed
        self.rejected = rejected
    }

    public static let none = ConnectionObserver(opened: {}, closed: {}, rejected: { _ in })
}

/// One admitted connection: when it last read, and whether it is answering (then it is never
/// drained). Atomics, so the connection updates them without the registry's lock.
public final class ConnectionSlot: Sendable {
    public let channel: any Channel
    private let lastActive: Atomic<UInt64>
    private let answering = Atomic<Int>(0)

    init(channel: any Channel, now: NIODeadline) {
        self.channel = channel
        lastActive = Atomic(now.uptimeNanoseconds)
    }

    /// Bytes arrived.
    public func touch(_ now: NIODeadline = .now()) { lastActive.store(now.uptimeNanoseconds, ordering: .relaxed) }
    /// An answer is being decided (`true`) or every answer is written (`false`).
    func setAnswering(_ busy: Bool) { answering.store(busy ? 1 : 0, ordering: .relaxed) }

    var quietSince: UInt64 { lastActive.load(ordering: .relaxed) }
    var isAnswering: Bool { answering.load(ordering: .relaxed) != 0 }
}

/// Per-listener connection accounting: the cap, draining at the cap, and the open channels for
/// graceful shutdown.
///
/// At the cap, the connection quiet for longest that is not answering is closed to admit the
/// new one (nginx's idle keep-alive draining); only when every connection is answering is the new
/// one refused. A leaked pool of keep-alive connections can therefore never lock a client out
/// (issue 16; red team 2, F4).
public final class ConnectionRegistry: Sendable {
    public let maxConnections: Int
    /// A connection must have been quiet this long to be drained (the gRPC listener cannot see
    /// whether a call is in flight, so it requires a quiet second).
    let minQuietToDrain: TimeAmount
    private let observer: ConnectionObserver
    private let slots = Mutex<[ObjectIdentifier: ConnectionSlot]>([:])

    public init(maxConnections: Int, minQuietToDrain: TimeAmount = .zero, observer: ConnectionObserver = .none) {
        self.maxConnections = maxConnections
        self.minQuietToDrain = minQuietToDrain
        self.observer = observer
    }

    /// Registers `channel`; nil when it must be closed (every connection is answering).
    public func admit(_ channel: any Channel, now: NIODeadline = .now()) -> ConnectionSlot? {
        let slot = ConnectionSlot(channel: channel, now: now)
        let quietBefore = now.uptimeNanoseconds &- UInt64(max(minQuietToDrain.nanoseconds, 0))
        let victim: ConnectionSlot?? = slots.withLock { open in
            var drained: ConnectionSlot?
            if open.count >= maxConnections {
                drained = open.values.lazy
                    .filter { !$0.isAnswering && $0.quietSince <= quietBefore }
                    .min { $0.quietSince < $1.quietSince }
                guard let drained else { return .none }
                open.removeValue(forKey: ObjectIdentifier(drained.channel))
            }
            open[ObjectIdentifier(channel)] = slot
            return .some(drained)
        }
        guard let victim else {
            observer.rejected(.allBusy)
            return nil
        }
        if let victim {
            observer.rejected(.idleDrained)
            observer.closed()
            victim.channel.close(promise: nil)
        }
        observer.opened()
        return slot
    }

    /// The slot of an admitted channel.
    public func slot(for channel: any Channel) -> ConnectionSlot? {
        slots.withLock { $0[ObjectIdentifier(channel)] }
    }

    /// Forgets `channel` (it closed). A drained connection was forgotten already.
    public func remove(_ channel: any Channel) {
        let removed = slots.withLock { open -> Bool in
            guard let slot = open[ObjectIdentifier(channel)], slot.channel === channel else { return false }
            open.removeValue(forKey: ObjectIdentifier(channel))
            return true
        }
        if removed { observer.closed() }
    }

    public var openCount: Int { slots.withLock { $0.count } }

    /// Asks every connection to finish what it is answering and close.
    public func quiesceAll() async {
        let delivered = slots.withLock { Array($0.values) }.map { slot in
            slot.channel.eventLoop.submit { slot.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
        // Returns once every connection's loop has run the event: a request read after this
        // (say, once the listener is closed) is answered with `Connection: close`.
        for future in delivered { try? await future.get() }
    }

    /// Waits until every connection open now has closed, or `timeout` has passed (awaited on the
    /// connections' close futures, not polled); true when they all closed.
    public func allClosed(within timeout: TimeAmount) async -> Bool {
        let channels = slots.withLock { $0.values.map(\.channel) }
        guard let loop = channels.first?.eventLoop else { return true }
        let done = loop.makePromise(of: Bool.self)
        // Both complete `done` on `loop`; the later one finds it fulfilled and changes nothing.
        EventLoopFuture.andAllComplete(channels.map(\.closeFuture), on: loop).whenComplete { _ in done.succeed(true) }
        let timer = loop.scheduleTask(in: timeout) { done.succeed(false) }
        let closed = (try? await done.futureResult.get()) ?? false
        timer.cancel()
        return closed
    }

    /// Closes every connection now.
    public func closeAll() {
        for slot in slots.withLock({ Array($0.values) }) {
            slot.channel.close(promise: nil)
        }
    }
}

/// Admits a connection into a `ConnectionRegistry` when it becomes active (closing it when the
/// registry refuses), and keeps its slot's activity current. For listeners whose protocol
/// handlers are not Sluice's own (the gRPC socket); put it first in the pipeline.
public final class ConnectionAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny

    private let registry: ConnectionRegistry
    private var slot: ConnectionSlot?

    public init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        if slot == nil, admit(context: context) { context.fireChannelActive() }
    }

    @discardableResult
    private func admit(context: ChannelHandlerContext) -> Bool {
        slot = registry.admit(context.channel)
        if slot == nil { context.close(promise: nil) }
        return slot != nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        slot?.touch()
        context.fireChannelRead(data)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        if slot != nil { registry.remove(context.channel) }
        slot = nil
        context.fireChannelInactive()
    }
}
