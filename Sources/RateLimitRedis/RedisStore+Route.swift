import NIOCore
import NIOSSL

extension RedisStore {
    /// The route for `endpoint`'s topology, with connections that log in (AUTH, SELECT), load
    /// the scripts (their SHAs go to `shas`) and, behind Sentinel, refuse a server that is not
    /// the master. The second value: whether batches are split by Cluster slot.
    static func route(
        to endpoint: RedisEndpoint, tlsContext: NIOSSLContext?, group: any EventLoopGroup, options: RedisStoreOptions, shas: ScriptSHAs
    ) -> (any RedisRoute, Bool) {
        var setup: [[String]] = []
        if let password = endpoint.password {
            setup.append(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if endpoint.database != 0 { setup.append(["SELECT", String(endpoint.database)]) }
        // Behind Sentinel, a server that is not (or no longer) the master is refused: writes
        // never go to a replica, even one that Sentinel has not yet reported as demoted.
        let sentinel = SentinelResolver(endpoint, timeout: options.connectTimeout, tlsContext: tlsContext)
        let roleAt: Int? = sentinel == nil ? nil : setup.count
        if roleAt != nil { setup.append(["ROLE"]) }
        var resolve: (@Sendable (any EventLoop) -> EventLoopFuture<RedisEndpoint.Address>)?
        if let sentinel { resolve = { loop in sentinel.master(on: loop) } }
        let resolveMaster = resolve
        let scripts = Script.allCases
        let loadFrom = setup.count
        setup += scripts.map { ["SCRIPT", "LOAD", $0.source] }
        let commands = setup
        let connectTimeout = options.connectTimeout
        let connect: ConnectionFactory = { address, loop in
            var node = endpoint
            node.address = address
            return RedisConnection(
                endpoint: node, tlsContext: tlsContext, eventLoop: loop, connectTimeout: connectTimeout,
                setup: { commands },
                onSetup: { (replies: [RESPValue]) throws in
                    if let roleAt { try SentinelResolver.requireMaster(replies[roleAt]) }
                    shas.learn(zip(scripts, replies[loadFrom...]))
                },
                resolve: resolveMaster)
        }
        switch endpoint.topology {
        case .single:
            return (SingleNodeRoute(group: group) { loop in connect(endpoint.address, loop) }, false)
        case .cluster(let seeds):
            return (ClusterRoute(seeds: seeds.isEmpty ? [endpoint.address] : seeds, refreshTimeout: connectTimeout, connect: connect), true)
        case .sentinel:
            let inner = SingleNodeRoute(group: group) { loop in connect(endpoint.address, loop) }
            return (sentinel.map { SentinelRoute(inner: inner, resolver: $0, interval: options.healthInterval) } ?? inner, false)
        }
    }
}
