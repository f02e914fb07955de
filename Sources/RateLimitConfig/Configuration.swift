public import RateLimitCore

/// The whole configuration file: backend and rules.
public struct Configuration: Sendable, Equatable {
    public var backend: Backend
    public var rules: RuleSet
    /// `backend.max_keys`: the cap on keys held in memory (nil: the default; `--max-keys` wins).
    public var maxKeys: Int?

    /// Fewest and most keys a cap may name.
    public static let maxKeysRange = 1_000...100_000_000

    public init(backend: Backend = .memory, rules: RuleSet, maxKeys: Int? = nil) {
        self.backend = backend
        self.rules = rules
        self.maxKeys = maxKeys
    }
}

/// Where key state lives.
public enum Backend: Sendable, Equatable {
    case memory
    case redis(RedisSettings)

    public var name: String {
        switch self {
        case .memory: "memory"
        case .redis: "redis"
        }
    }
}

/// What to do when Redis cannot answer in time (defined in the core, where the store uses it).
public typealias FailurePolicy = RateLimitCore.FailurePolicy

/// The `backend.redis` section.
public struct RedisSettings: Sendable, Equatable {
    /// `redis://[user:password@]host:port/db`, `rediss://…` (TLS) or `unix:///path`.
    public var url: String
    public var timeoutMilliseconds: Int
    public var onFailure: FailurePolicy
    /// A file whose first line is the password (overrides one in the URL); never logged.
    public var passwordFile: String?

    /// `backend.redis.tls`: TLS with a private CA or a client certificate (also turns TLS on
    /// for a `redis://` URL).
    public var tls: RedisTLSSettings?
    /// `backend.redis.sentinel`: find the master through Sentinel.
    public var sentinel: RedisSentinelSettings?
    /// `backend.redis.cluster`: a Redis Cluster, found from these nodes.
    public var cluster: RedisClusterSettings?

    public init(
        url: String, timeoutMilliseconds: Int = 20, onFailure: FailurePolicy = .local, passwordFile: String? = nil,
        tls: RedisTLSSettings? = nil, sentinel: RedisSentinelSettings? = nil, cluster: RedisClusterSettings? = nil
    ) {
        self.url = url
        self.timeoutMilliseconds = timeoutMilliseconds
        self.onFailure = onFailure
        self.passwordFile = passwordFile
        self.tls = tls
        self.sentinel = sentinel
        self.cluster = cluster
    }
}

/// `backend.redis.tls`; files are PEM.
public typealias RedisTLSSettings = RedisTLSFiles

/// `backend.redis.sentinel`: the master's name and where the sentinels are (`host:port`).
public struct RedisSentinelSettings: Sendable, Equatable {
    public var master: String
    public var addresses: [HostPort]
    /// The sentinels' own password (`requirepass` in sentinel.conf), if any.
    public var passwordFile: String?

    public init(master: String, addresses: [HostPort], passwordFile: String? = nil) {
        self.master = master
        self.addresses = addresses
        self.passwordFile = passwordFile
    }
}

/// `backend.redis.cluster`: seed nodes; the rest of the cluster is learnt from them.
public struct RedisClusterSettings: Sendable, Equatable {
    public var addresses: [HostPort]

    public init(addresses: [HostPort]) { self.addresses = addresses }
}

/// `host:port` (`[v6]:port` for IPv6).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; nil when either part is missing or the port is not 1…65535.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = Substring(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A configuration error: the field (a path such as `rules[2].period`), where it is, and why.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(field: String, line: Int?, column: Int?, message: String) {
        self.field = field
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        let place = line.map { " (line \($0)\(column.map { ", column \($0)" } ?? ""))" } ?? ""
        return field.isEmpty ? "\(message)\(place)" : "\(field)\(place): \(message)"
    }
}
