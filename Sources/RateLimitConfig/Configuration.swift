public import RateLimitCore

/// The whole configuration file: backend and rules.
public struct Configuration: Sendable, Equatable {
    public var backend: Backend
    public var rules: RuleSet

    public init(backend: Backend = .memory, rules: RuleSet) {
        self.backend = backend
        self.rules = rules
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

/// What to do when Redis cannot answer in time.
public enum FailurePolicy: String, Sendable, CaseIterable {
    case allow, deny, local
}

/// The `backend.redis` section.
public struct RedisSettings: Sendable, Equatable {
    /// `redis://[user:password@]host:port/db`, `rediss://…` (TLS) or `unix:///path`.
    public var url: String
    public var timeoutMilliseconds: Int
    public var onFailure: FailurePolicy

    public init(url: String, timeoutMilliseconds: Int = 20, onFailure: FailurePolicy = .local) {
        self.url = url
        self.timeoutMilliseconds = timeoutMilliseconds
        self.onFailure = onFailure
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
