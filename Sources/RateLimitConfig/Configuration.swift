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

    public init(url: String, timeoutMilliseconds: Int = 20, onFailure: FailurePolicy = .local, passwordFile: String? = nil) {
        self.url = url
        self.timeoutMilliseconds = timeoutMilliseconds
        self.onFailure = onFailure
        self.passwordFile = passwordFile
    }
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
