public import RateLimitCore
import YAML

/// YAML text → validated `Configuration`. Every error names the field and its line.
public enum ConfigLoader {
    /// Parses and validates a configuration document.
    public static func parse(yaml: String) throws(ConfigError) -> Configuration {
        let parsed: YAMLNode?
        do { parsed = try YAMLParser.document(yaml) } catch { throw ConfigError.yaml(error) }
        guard let root = parsed else { throw ConfigError(field: "", line: nil, column: nil, message: "the file is empty") }
        let top = try MappingReader(root, path: "")
        try top.rejectUnknown(["backend", "rules"])
        let backend = try top.value("backend").map { node throws(ConfigError) in try parseBackend(node) } ?? .memory
        let maxKeys = try top.value("backend").map { node throws(ConfigError) in try parseMaxKeys(node) } ?? nil
        guard let ruleNodes = try top.sequence("rules") else {
            throw ConfigError.at(root, "rules", "is required (a list of rules)")
        }
        guard !ruleNodes.isEmpty else { throw ConfigError.at(top.node(for: "rules"), "rules", "needs at least one rule") }
        var rules: [Rule] = []
        var seen: [String: Int] = [:]
        for (i, node) in ruleNodes.enumerated() {
            let rule = try parseRule(node, path: "rules[\(i)]")
            if let first = seen[rule.name] {
                let field = try MappingReader(node, path: "rules[\(i)]")
                throw ConfigError.at(
                    field.node(for: "name"), "rules[\(i)].name",
                    "duplicate rule name \"\(rule.name)\" (first defined at rules[\(first)])")
            }
            seen[rule.name] = i
            rules.append(rule)
        }
        try DescriptorParser.rejectDuplicates(rules, nodes: ruleNodes)
        do {
            return Configuration(backend: backend, rules: try RuleSet(rules), maxKeys: maxKeys)
        } catch {
            throw ConfigError(field: error.field, line: nil, column: nil, message: error.message)
        }
    }

    /// Parses one rule (also used by the admin API, which takes a rule as YAML or JSON).
    public static func parseRule(yaml: String) throws(ConfigError) -> Rule {
        let parsed: YAMLNode?
        do { parsed = try YAMLParser.document(yaml) } catch { throw ConfigError.yaml(error, "YAML or JSON") }
        guard let node = parsed else { throw ConfigError(field: "", line: nil, column: nil, message: "the rule is empty") }
        return try parseRule(node, path: "")
    }

    static func parseBackend(_ node: YAMLNode) throws(ConfigError) -> Backend {
        let backend = try MappingReader(node, path: "backend")
        try backend.rejectUnknown(["type", "redis", "max_keys"])
        let type = try backend.string("type") ?? "memory"
        switch type {
        case "memory":
            return .memory
        case "redis":
            guard let redisNode = backend.value("redis") else {
                throw ConfigError.at(node, "backend.redis", "is required when type is redis")
            }
            return .redis(try parseRedis(redisNode))
        default:
            throw ConfigError.at(backend.node(for: "type"), "backend.type", "must be memory or redis, got \"\(type)\"")
        }
    }

    static func parseMaxKeys(_ node: YAMLNode) throws(ConfigError) -> Int? {
        let backend = try MappingReader(node, path: "backend")
        guard let n = try backend.integer("max_keys") else { return nil }
        let range = Configuration.maxKeysRange
        guard range.contains(Int(n)) else {
            throw ConfigError.at(backend.node(for: "max_keys"), "backend.max_keys", "must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(n)
    }

    static func parseRedis(_ node: YAMLNode) throws(ConfigError) -> RedisSettings {
        let redis = try MappingReader(node, path: "backend.redis")
        try redis.rejectUnknown(["url", "timeout_ms", "on_failure", "password_file", "tls", "sentinel", "cluster"])
        let sentinel = try redis.value("sentinel").map { node throws(ConfigError) in try parseSentinel(node) }
        let cluster = try redis.value("cluster").map { node throws(ConfigError) in try parseCluster(node) }
        if sentinel != nil, cluster != nil {
            throw ConfigError.at(redis.node(for: "cluster"), "backend.redis.cluster", "cannot be combined with backend.redis.sentinel")
        }
        // With Sentinel or Cluster the URL is optional: only its scheme, login and database count.
        let seed = sentinel.map { _ in "redis://localhost" } ?? cluster?.addresses.first.map { "redis://\($0)" }
        let url: String
        if let seed { url = try redis.string("url") ?? seed } else { url = try redis.requiredString("url") }
        guard ["redis://", "rediss://", "unix://"].contains(where: { url.hasPrefix($0) }),
              url.split(separator: "/", omittingEmptySubsequences: true).count >= 2
        else {
            throw ConfigError.at(redis.node(for: "url"), "backend.redis.url", "must be redis://host:port[/db], rediss://… or unix:///path")
        }
        if seed != nil, url.hasPrefix("unix://") {
            throw ConfigError.at(redis.node(for: "url"), "backend.redis.url", "must be redis:// or rediss:// with sentinel or cluster")
        }
        let timeout = try redis.integer("timeout_ms") ?? 20
        guard (1...60_000).contains(timeout) else {
            throw ConfigError.at(redis.node(for: "timeout_ms"), "backend.redis.timeout_ms", "must be from 1 to 60000")
        }
        let policyText = try redis.string("on_failure") ?? FailurePolicy.local.rawValue
        guard let policy = FailurePolicy(rawValue: policyText) else {
            throw ConfigError.at(redis.node(for: "on_failure"), "backend.redis.on_failure", "must be allow, deny or local, got \"\(policyText)\"")
        }
        return RedisSettings(
            url: url, timeoutMilliseconds: Int(timeout), onFailure: policy, passwordFile: try redis.string("password_file"),
            tls: try redis.value("tls").map { node throws(ConfigError) in try parseTLS(node) }, sentinel: sentinel, cluster: cluster)
    }

    static func parseTLS(_ node: YAMLNode) throws(ConfigError) -> RedisTLSSettings {
        let tls = try MappingReader(node, path: "backend.redis.tls")
        try tls.rejectUnknown(["ca_file", "cert_file", "key_file", "server_name"])
        let settings = RedisTLSSettings(
            caFile: try tls.string("ca_file"), certFile: try tls.string("cert_file"), keyFile: try tls.string("key_file"),
            serverName: try tls.string("server_name"))
        if (settings.certFile == nil) != (settings.keyFile == nil) {
            let missing = settings.certFile == nil ? "cert_file" : "key_file"
            throw ConfigError.at(node, "backend.redis.tls.\(missing)", "is required with \(missing == "cert_file" ? "key_file" : "cert_file")")
        }
        return settings
    }

    static func parseSentinel(_ node: YAMLNode) throws(ConfigError) -> RedisSentinelSettings {
        let sentinel = try MappingReader(node, path: "backend.redis.sentinel")
        try sentinel.rejectUnknown(["master", "addresses", "password_file"])
        return RedisSentinelSettings(
            master: try sentinel.requiredString("master"), addresses: try addresses(sentinel),
            passwordFile: try sentinel.string("password_file"))
    }

    static func parseCluster(_ node: YAMLNode) throws(ConfigError) -> RedisClusterSettings {
        let cluster = try MappingReader(node, path: "backend.redis.cluster")
        try cluster.rejectUnknown(["addresses"])
        return RedisClusterSettings(addresses: try addresses(cluster))
    }

    /// A non-empty list of `host:port`.
    static func addresses(_ reader: MappingReader) throws(ConfigError) -> [HostPort] {
        guard let nodes = try reader.sequence("addresses"), !nodes.isEmpty else {
            throw ConfigError.at(reader.node(for: "addresses"), reader.child("addresses"), "is required: a list of host:port")
        }
        var out: [HostPort] = []
        for (i, node) in nodes.enumerated() {
            guard case .scalar(let scalar) = node, let address = HostPort(scalar.text) else {
                throw ConfigError.at(node, "\(reader.child("addresses"))[\(i)]", "must be host:port with a port from 1 to 65535")
            }
            out.append(address)
        }
        return out
    }

    static func parseRule(_ node: YAMLNode, path: String) throws(ConfigError) -> Rule {
        let r = try MappingReader(node, path: path)
        try r.rejectUnknown(["name", "algorithm", "limit", "period", "lease_ttl", "burst", "shadow", "overrides", "descriptors"])
        let name = try r.requiredString("name")
        let algorithmText = try r.requiredString("algorithm")
        guard let algorithm = Algorithm(rawValue: algorithmText) else {
            let names = Algorithm.allCases.map(\.rawValue).joined(separator: ", ")
            throw ConfigError.at(r.node(for: "algorithm"), r.child("algorithm"), "must be one of \(names), got \"\(algorithmText)\"")
        }
        guard let limit = try r.integer("limit") else { throw ConfigError.at(node, r.child("limit"), "is required") }
        let period = try span(r, algorithm: algorithm, rule: true) ?? 0
        let burst = try r.integer("burst")
        let limits = try makeLimits(r, algorithm: algorithm, limit: limit, period: period, burst: burst)
        var overrides: [ExactKey: OverridePolicy] = [:]
        for (i, overrideNode) in (try r.sequence("overrides") ?? []).enumerated() {
            let o = try MappingReader(overrideNode, path: r.child("overrides[\(i)]"))
            try o.rejectUnknown(["key", "limit", "period", "lease_ttl", "burst", "unlimited"])
            let key = try o.requiredString("key")
            do { try RateLimiter.validateKey(key) } catch {
                throw ConfigError.at(o.node(for: "key"), o.child("key"), error.description)
            }
            if overrides[ExactKey(key)] != nil {
                throw ConfigError.at(o.node(for: "key"), o.child("key"), "duplicate override for key \"\(key)\"")
            }
            if try o.bool("unlimited") == true {
                if let extra = ["limit", "period", "lease_ttl", "burst"].first(where: { o.value($0) != nil }) {
                    throw ConfigError.at(o.node(for: extra), o.child(extra), "cannot be combined with unlimited: true")
                }
                overrides[ExactKey(key)] = .unlimited
                continue
            }
            let oLimit = try o.integer("limit")
            let oPeriod = try span(o, algorithm: algorithm, rule: false)
            let oBurst = try o.integer("burst") ?? (oLimit == nil ? burst : nil)
            guard oLimit != nil || oPeriod != nil || o.value("burst") != nil else {
                let fields = algorithm == .concurrency ? "limit, lease_ttl" : "limit, period, burst"
                throw ConfigError.at(overrideNode, o.path, "needs \(fields) or unlimited: true")
            }
            overrides[ExactKey(key)] = .limited(try makeLimits(
                o, algorithm: algorithm, limit: oLimit ?? limit, period: oPeriod ?? period, burst: oBurst))
        }
        let shadow = try r.bool("shadow") ?? false
        let descriptors = try DescriptorParser.parse(r)
        do {
            return try Rule(name: name, limits: limits, shadow: shadow, overrides: overrides, descriptors: descriptors)
        } catch {
            throw ConfigError.at(r.node(for: error.field), r.child(error.field), error.message)
        }
    }

    /// A rule's or override's `period`, or a concurrency rule's `lease_ttl` (default
    /// `Limits.defaultLeaseTTL` for a rule; an override inherits its rule's). Each algorithm
    /// refuses the other's field, naming it.
    private static func span(_ r: MappingReader, algorithm: Algorithm, rule: Bool) throws(ConfigError) -> Nanoseconds? {
        if algorithm == .concurrency {
            if r.value("period") != nil {
                throw ConfigError.at(r.node(for: "period"), r.child("period"), "a concurrency rule takes lease_ttl (how long a lease lives), not period")
            }
            return try duration(r, "lease_ttl", required: false) ?? (rule ? Limits.defaultLeaseTTL : nil)
        }
        if r.value("lease_ttl") != nil {
            throw ConfigError.at(r.node(for: "lease_ttl"), r.child("lease_ttl"), "only concurrency rules take a lease_ttl")
        }
        return try duration(r, "period", required: rule)
    }

    private static func duration(_ r: MappingReader, _ name: String, required: Bool) throws(ConfigError) -> Nanoseconds? {
        guard let text = try r.string(name) else {
            if required { throw ConfigError.at(r.node, r.child(name), "is required (e.g. 1s, 1m, 1h)") }
            return nil
        }
        guard let ns = DurationParser.parse(text) else {
            throw ConfigError.at(r.node(for: name), r.child(name), "must be a duration such as 500ms, 1s, 1m, 1h or 1d, got \"\(text)\"")
        }
        return ns
    }

    private static func makeLimits(
        _ r: MappingReader, algorithm: Algorithm, limit: Int64, period: Nanoseconds, burst: Int64?
    ) throws(ConfigError) -> Limits {
        do {
            return try Limits(algorithm: algorithm, limit: limit, period: period, burst: burst)
        } catch {
            throw ConfigError.at(r.node(for: error.field), r.child(error.field), error.message)
        }
    }
}
