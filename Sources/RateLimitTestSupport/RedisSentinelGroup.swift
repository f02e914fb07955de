import Foundation

/// One master, one replica and three sentinels (quorum 2) on loopback, as `redis-server
/// --sentinel` runs them; stopped by `stop()`.
public final class RedisSentinelGroup: @unchecked Sendable {  // used from one test at a time; holds Processes
    public static let masterName = "sluice-test"
    public let servers: [RedisServerProcess]
    public let sentinels: [RedisServerProcess]
    private var configs: [TemporaryDirectory] = []

    public init() throws {
        let master = try RedisServerProcess()
        let replica = try RedisServerProcess(arguments: ["--replicaof", "127.0.0.1", String(master.port)])
        servers = [master, replica]
        var configs: [TemporaryDirectory] = []
        var sentinels: [RedisServerProcess] = []
        for _ in 0..<3 {
            let directory = TemporaryDirectory()
            configs.append(directory)
            try directory.write("sentinel.conf", """
                sentinel monitor \(Self.masterName) 127.0.0.1 \(master.port) 2
                sentinel down-after-milliseconds \(Self.masterName) 1000
                sentinel failover-timeout \(Self.masterName) 5000

                """)
            sentinels.append(try RedisServerProcess(leadingArguments: [directory.file("sentinel.conf"), "--sentinel"]))
        }
        self.sentinels = sentinels
        self.configs = configs
        guard poll(timeout: .seconds(10), { (try? self.replicaIsSynced()) == true }) else {
            throw RedisServerProcess.Failure(description: "the replica did not sync with the master")
        }
    }

    /// The sentinels as `host:port`.
    public var addresses: [String] { sentinels.map { "127.0.0.1:\($0.port)" } }

    /// The port the sentinels name as the master now.
    public func masterPort() throws -> Int? {
        let reply = try runCommand(try cli(), ["-p", String(sentinels[0].port), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self.masterName])
        return reply.stdout.split(separator: "\n").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// `SENTINEL FAILOVER`: the sentinels promote the replica without waiting for a failure.
    public func failover() throws {
        let reply = try runCommand(try cli(), ["-p", String(sentinels[0].port), "SENTINEL", "FAILOVER", Self.masterName])
        guard reply.stdout.hasPrefix("OK") else { throw RedisServerProcess.Failure(description: "SENTINEL FAILOVER: \(reply.stdout)") }
    }

    private func replicaIsSynced() throws -> Bool {
        let info = try runCommand(try cli(), ["-p", String(servers[1].port), "INFO", "replication"]).stdout
        return info.contains("master_link_status:up")
    }

    private func cli() throws -> String {
        guard let cli = RedisClusterProcess.cli else { throw RedisServerProcess.Failure(description: "redis-cli is not installed") }
        return cli
    }

    public func stop() {
        for server in servers + sentinels { server.stop() }
        for directory in configs { directory.remove() }
    }
}
