import NIOCore
import Synchronization

/// Redis Cluster: each command goes to the master of its key's slot, on a connection per node
/// and event loop (so commands still pipeline). The slot map comes from `CLUSTER SLOTS`, asked
/// of any known node; `MOVED` updates it (and refreshes it whole), `ASK` sends that one command
/// to the importing node after `ASKING`, and `TRYAGAIN` (a multi-key call during a migration)
/// is retried shortly, all within the command's own deadline.
final class ClusterRoute: RedisRoute {
    private struct State {
        var map = ClusterSlotMap()
        var hasMap = false
        var connections: [RedisEndpoint.Address: [ObjectIdentifier: RedisConnection]] = [:]
        var refreshing: EventLoopFuture<ClusterSlotMap>?
    }

    private let seeds: [RedisEndpoint.Address]
    private let connect: ConnectionFactory
    private let refreshTimeout: TimeAmount
    private let state = Mutex(State())

    /// Redirections followed for one command before its last reply is taken as the answer.
    static let maxRedirects = 5
    static let tryAgainDelay: TimeAmount = .milliseconds(2)

    init(seeds: [RedisEndpoint.Address], refreshTimeout: TimeAmount, connect: @escaping ConnectionFactory) {
        self.seeds = seeds
        self.refreshTimeout = refreshTimeout
        self.connect = connect
    }

    func send(_ arguments: [String], key: String?, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<RESPValue> {
        let deadline = NIODeadline.now() + timeout
        let slot = key.map(HashSlot.slot(of:))
        return target(slot, on: eventLoop).flatMap { address in
            self.attempt(arguments, slot: slot, at: address, asking: false, deadline: deadline, redirects: Self.maxRedirects, on: eventLoop)
        }
    }

    /// The node for `slot` (any node for nil), learning the map first if there is none yet.
    private func target(_ slot: Int?, on eventLoop: any EventLoop) -> EventLoopFuture<RedisEndpoint.Address> {
        let known = state.withLock { state -> RedisEndpoint.Address?? in
            guard state.hasMap else { return .none }
            return .some(slot.flatMap(state.map.node(for:)) ?? state.map.nodes.first)
        }
        if let known { return eventLoop.makeSucceededFuture(known ?? seeds[0]) }
        return refresh(on: eventLoop).map { map in slot.flatMap(map.node(for:)) ?? map.nodes.first ?? self.seeds[0] }
    }

    private func attempt(
        _ arguments: [String], slot: Int?, at address: RedisEndpoint.Address, asking: Bool, deadline: NIODeadline, redirects: Int,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<RESPValue> {
        let left = deadline - .now()
        guard left > .zero else { return eventLoop.makeFailedFuture(RedisConnectionError.timeout) }
        let connection = self.connection(to: address, on: eventLoop)
        // ASKING admits only the next command on this connection; both are written in order.
        if asking { _ = connection.send(["ASKING"], timeout: left) }
        return connection.send(arguments, timeout: left).flatMap { reply in
            guard case .error(let message) = reply, redirects > 0 else { return eventLoop.makeSucceededFuture(reply) }
            let again = { (to: RedisEndpoint.Address, asking: Bool) in
                self.attempt(arguments, slot: slot, at: to, asking: asking, deadline: deadline, redirects: redirects - 1, on: eventLoop)
            }
            switch ClusterRedirect(message, askedHost: address.host) {
            case .moved(let movedSlot, let to)?:
                self.state.withLock { $0.map.move(movedSlot, to: to) }
                _ = self.refresh(on: eventLoop)
                return again(to, false)
            case .ask(_, let to)?:
                return again(to, true)
            case nil where message.hasPrefix("TRYAGAIN"):
                return eventLoop.scheduleTask(in: Self.tryAgainDelay) {}.futureResult.flatMap { again(address, asking) }
            case nil:
                return eventLoop.makeSucceededFuture(reply)
            }
        }.flatMapError { error in
            // A node that is gone may have been replaced by a promoted replica: learn the map again.
            if error as? RedisConnectionError != .timeout { _ = self.refresh(on: eventLoop) }
            return eventLoop.makeFailedFuture(error)
        }
    }

    private func connection(to address: RedisEndpoint.Address, on eventLoop: any EventLoop) -> RedisConnection {
        state.withLock { state in
            if let existing = state.connections[address]?[ObjectIdentifier(eventLoop)] { return existing }
            let made = connect(address, eventLoop)
            state.connections[address, default: [:]][ObjectIdentifier(eventLoop)] = made
            return made
        }
    }

    /// Asks the known masters, then the seeds, for `CLUSTER SLOTS`; one refresh at a time.
    func refresh(on eventLoop: any EventLoop) -> EventLoopFuture<ClusterSlotMap> {
        let (running, candidates) = state.withLock { state -> (EventLoopFuture<ClusterSlotMap>?, [RedisEndpoint.Address]) in
            (state.refreshing, state.map.nodes + seeds.filter { !state.map.nodes.contains($0) })
        }
        if let running { return running.hop(to: eventLoop) }
        let promise = eventLoop.makePromise(of: ClusterSlotMap.self)
        let won = state.withLock { state -> Bool in
            guard state.refreshing == nil else { return false }
            state.refreshing = promise.futureResult
            return true
        }
        guard won else { return refresh(on: eventLoop) }
        ask(candidates[...], on: eventLoop, lastError: nil).whenComplete { result in
            self.state.withLock { state in
                state.refreshing = nil
                if case .success(let map) = result {
                    state.map = map
                    state.hasMap = true
                }
            }
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    private func ask(
        _ candidates: ArraySlice<RedisEndpoint.Address>, on eventLoop: any EventLoop, lastError: (any Error)?
    ) -> EventLoopFuture<ClusterSlotMap> {
        guard let address = candidates.first else {
            return eventLoop.makeFailedFuture(lastError ?? RedisConnectionError.unavailable("no cluster node to ask"))
        }
        return connection(to: address, on: eventLoop).send(["CLUSTER", "SLOTS"], timeout: refreshTimeout)
            .flatMapThrowing { reply in
                if case .error(let message) = reply { throw RedisErrorReply(message: message) }
                let map = try ClusterSlotMap(slots: reply, askedHost: address.host)
                guard !map.nodes.isEmpty else { throw RedisConnectionError.unavailable("the cluster serves no slot yet") }
                return map
            }
            .flatMapError { error in self.ask(candidates.dropFirst(), on: eventLoop, lastError: error) }
    }

    func close() async {
        let all = state.withLock { $0.connections.values.flatMap(\.values) }
        for connection in all { try? await connection.close().get() }
    }
}

extension RedisEndpoint.Address {
    var host: String {
        switch self {
        case .tcp(let host, _): host
        case .unix(let path): path
        }
    }
}
