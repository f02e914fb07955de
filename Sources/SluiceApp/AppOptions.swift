public import NIOCore
import RateLimitConfig
import RateLimitHTTP
public import RateLimitMetrics

/// Everything `sluice serve` is told, parsed: a plain value, so tests build the app without the
/// command line.
public struct AppOptions: Sendable {
    /// The configuration file (YAML); nil serves the embedded default rules.
    public var configPath: String?
    /// The API's Unix socket.
    public var socketPath: String
    /// Also serve gRPC (sluice.v1 and Envoy RLS v3) on this Unix socket.
    public var grpcSocketPath: String?
    /// The /metrics, /healthz and /readyz listener; port 0 picks a free one (see `Application.listening`).
    public var metricsHost = "127.0.0.1"
    public var metricsPort = 9780
    /// Permission bits of the socket files.
    public var socketMode: UInt32 = 0o660
    /// False turns off `/v1/rules*` and `/v1/reload` (`--no-admin`).
    public var adminEnabled = true
    /// Most simultaneous connections per socket.
    public var maxConnections = 1024
    /// Most requests waiting for a remote backend at once.
    public var maxInflight = 4096
    /// Most keys held in memory; nil: `backend.max_keys`, else `defaultMaxKeys`.
    public var maxKeys: Int?
    /// Memory backend: key states restored at start and saved at shutdown.
    public var stateFile: String?
    /// Top keys per rule, and how many are exported as metrics.
    public var topKeys = TopKeysSettings()
    /// With exported top keys: label them by HMAC-SHA256 under the first line of this file.
    public var topKeysMetricSecretFile: String?
    public var idleTimeout: TimeAmount = .seconds(60)
    public var requestTimeout: TimeAmount = .seconds(10)
    /// How often idle keys are evicted.
    public var sweepInterval: Duration = .seconds(10)
    /// Reload on SIGHUP (the process); tests that share a process turn it off.
    public var reloadOnSIGHUP = true
    /// For `rate_limiter_build_info`.
    public var version = "0.1.0"
    public var revision = "unknown"

    /// Fits the shipped 128 MiB memory limit with room to spare (docs/operations.md, sizing).
    public static let defaultMaxKeys = 200_000

    public init(socketPath: String) {
        self.socketPath = socketPath
    }
}

/// Why the app cannot start: the message the executable prints after `sluice: ` before exiting 1.
public struct StartError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

extension AppOptions {
    /// The first setting that cannot work, named as its flag.
    public func validate() throws(StartError) {
        if let grpcSocketPath, grpcSocketPath == socketPath { throw StartError("--grpc-socket must differ from --socket") }
        guard maxConnections >= 1 else { throw StartError("--max-connections must be at least 1") }
        if let maxKeys, !Configuration.maxKeysRange.contains(maxKeys) {
            throw StartError("--max-keys must be from \(Configuration.maxKeysRange.lowerBound) to \(Configuration.maxKeysRange.upperBound)")
        }
        guard maxInflight >= 1 else { throw StartError("--max-inflight must be at least 1") }
        guard (0...10_000).contains(topKeys.capacity) else { throw StartError("--top-keys must be from 0 to 10000") }
        guard (0...topKeys.capacity).contains(topKeys.exported) else {
            throw StartError("--top-keys-metric must be from 0 to --top-keys (\(topKeys.capacity))")
        }
        let max = UnixSocketPath.maxBytes
        guard socketPath.utf8.count <= max, grpcSocketPath.map({ $0.utf8.count <= max }) ?? true else {
            throw StartError("--socket and --grpc-socket must be at most \(max) bytes (a Unix socket path limit)")
        }
    }

    /// "HOST:PORT" or "[v6]:PORT"; nil when it is neither.
    public static func parseAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }
}
