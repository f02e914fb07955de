import Foundation
import SluiceApp
#if canImport(Glibc)
import Glibc
#endif

/// A Redis Cluster of `masters` redis-servers on loopback, made with `redis-cli --cluster
/// create` (no replicas); stopped by `stop()`.
public final class RedisClusterProcess: @unchecked Sendable {  // used from one test at a time; holds Processes
    public let nodes: [RedisServerProcess]

    /// `redis-cli` on PATH, or nil (then the test is skipped, or fails under SLUICE_REQUIRE_TOOLS=1).
    public static var cli: String? { which("redis-cli") }

    public init(masters: Int = 3) throws {
        guard let cli = Self.cli else { throw RedisServerProcess.Failure(description: "redis-cli is not installed") }
        var nodes: [RedisServerProcess] = []
        for _ in 0..<masters {
            nodes.append(try RedisServerProcess(arguments: ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"], port: Self.freePort()))
        }
        self.nodes = nodes
        let create = try runCommand(cli, ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "0", "--cluster-yes"])
        guard create.status == 0 else { throw RedisServerProcess.Failure(description: "redis-cli --cluster create failed: \(create.stdout) \(create.stderr)") }
        guard poll(timeout: .seconds(20), { nodes.allSatisfy { (try? self.cli($0, ["CLUSTER", "INFO"]))?.contains("cluster_state:ok") == true } }) else {
            throw RedisServerProcess.Failure(description: "the cluster did not reach cluster_state:ok")
        }
    }

    /// The seed addresses (`host:port`) of every node.
    public var addresses: [String] { nodes.map { "127.0.0.1:\($0.port)" } }

    /// Runs `redis-cli -p PORT ARGS` against `node`; its whole output.
    public func cli(_ node: RedisServerProcess, _ arguments: [String]) throws -> String {
        guard let cli = Self.cli else { throw RedisServerProcess.Failure(description: "redis-cli is not installed") }
        let result = try runCommand(cli, ["-p", String(node.port)] + arguments)
        guard result.status == 0 else { throw RedisServerProcess.Failure(description: "redis-cli \(arguments): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The node that serves `slot` now, as the first node's `CLUSTER NODES` says.
    public func owner(of slot: Int) throws -> RedisServerProcess {
        // One line per node: ID HOST:PORT@BUS FLAGS MASTER PING PONG EPOCH STATE SLOTS…
        for line in try cli(nodes[0], ["CLUSTER", "NODES"]).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 8, let port = fields[1].split(separator: "@").first?.split(separator: ":").last.flatMap({ Int($0) }) else { continue }
            let serves = fields[8...].contains { range in
                let bounds = range.split(separator: "-").compactMap { Int($0) }
                return bounds.count == 1 ? bounds[0] == slot : bounds.count == 2 && (bounds[0]...bounds[1]).contains(slot)
            }
            if serves, let node = nodes.first(where: { $0.port == port }) { return node }
        }
        throw RedisServerProcess.Failure(description: "no node serves slot \(slot)")
    }

    /// `redis-cli --cluster reshard`: moves `slots` slots from `from` to `to`, keys included.
    public func reshard(slots: Int, from: RedisServerProcess, to: RedisServerProcess) throws {
        guard let cli = Self.cli else { throw RedisServerProcess.Failure(description: "redis-cli is not installed") }
        let result = try runCommand(cli, [
            "--cluster", "reshard", "127.0.0.1:\(from.port)", "--cluster-from", try self.cli(from, ["CLUSTER", "MYID"]),
            "--cluster-to", try self.cli(to, ["CLUSTER", "MYID"]), "--cluster-slots", String(slots), "--cluster-yes",
        ])
        guard result.status == 0 else { throw RedisServerProcess.Failure(description: "reshard failed: \(result.stdout) \(result.stderr)") }
    }

    public func stop() { for node in nodes { node.stop() } }

    /// A port whose cluster bus port (port + 10000) is free too. Both lie below the kernel's
    /// ephemeral range (from 32768), so no outgoing connection takes them meanwhile.
    static func freePort() -> Int {
        for _ in 0..<1000 {
            let port = Int.random(in: 20000..<22768)
            if isFree(port), isFree(port + 10000) { return port }
        }
        return freeLoopbackPort()
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = BlockingHTTPClient.loopbackAddress(port: port)
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } } == 0
    }
}
