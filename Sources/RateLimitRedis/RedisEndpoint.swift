/// Where Redis is and how to log in, parsed from `redis://[user:password@]host[:port][/db]`,
/// `rediss://…` (TLS) or `unix:///path[?db=N]`. The password is never part of `description`.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Address: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var address: Address
    public var username: String?
    public var password: String?
    public var database: Int
    /// TLS settings; nil for plaintext.
    public var tls: RedisTLS?
    /// One server (`address`), a Cluster found from seed nodes, or Sentinel's master.
    public var topology: RedisTopology = .single

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(address: Address, username: String? = nil, password: String? = nil, database: Int = 0, tls: RedisTLS? = nil) {
        self.address = address
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses a Redis URL; `rediss://` turns TLS on with the system trust store.
    public init(url: String) throws(ParseError) {
        if let rest = url.dropPrefix("unix://") {
            let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let path = String(parts[0])
            guard path.hasPrefix("/") else { throw ParseError(description: "unix:// needs an absolute path: unix:///run/redis.sock") }
            var database = 0
            if parts.count > 1 {
                guard let text = parts[1].split(separator: "&").first(where: { $0.hasPrefix("db=") })?.dropFirst(3),
                      let db = Int(text), db >= 0 else {
                    throw ParseError(description: "unix:// takes only ?db=N")
                }
                database = db
            }
            self.init(address: .unix(path: path), database: database)
            return
        }
        let tls = url.hasPrefix("rediss://")
        guard let rest = url.dropPrefix("redis://") ?? url.dropPrefix("rediss://") else {
            throw ParseError(description: "must start with redis://, rediss:// or unix://")
        }
        var authority = Substring(rest)
        var database = 0
        if let slash = authority.firstIndex(of: "/") {
            let dbText = authority[authority.index(after: slash)...]
            authority = authority[..<slash]
            if !dbText.isEmpty {
                guard let db = Int(dbText), db >= 0 else { throw ParseError(description: "the database after / must be a number") }
                database = db
            }
        }
        var username: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let credentials = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = Self.percentDecoded(credentials[..<colon])
                username = user.isEmpty ? nil : user
                password = Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                password = Self.percentDecoded(credentials)
            }
        }
        var host = String(authority)
        var port = 6379
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw ParseError(description: "bad port") }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw ParseError(description: "the port must be from 1 to 65535")
            }
            port = p
        }
        guard !host.isEmpty else { throw ParseError(description: "a host is required: redis://host:6379") }
        self.init(
            address: .tcp(host: host, port: port), username: username, password: password, database: database,
            tls: tls ? RedisTLS() : nil)
    }

    /// The URL without its password, for logs.
    public var description: String {
        let user = username.map { "\($0)@" } ?? (password != nil ? "***@" : "")
        switch address {
        case .tcp(let host, let port): return "\(tls == nil ? "redis" : "rediss")://\(user)\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        case .unix(let path): return "unix://\(path)?db=\(database)"
        }
    }

    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var it = text.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%"), let h = it.next(), let l = it.next(),
               let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) {
                bytes.append(v)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// How the Redis servers are arranged.
public enum RedisTopology: Sendable, Equatable {
    /// One server at the endpoint's address (or a proxy in front of several).
    case single
    /// A Redis Cluster; the rest of it is learnt from these nodes (`CLUSTER SLOTS`).
    case cluster(seeds: [RedisEndpoint.Address])
    /// The master that these sentinels name `master` (they may need their own `password`).
    case sentinel(master: String, sentinels: [RedisEndpoint.Address], password: String?)
}

extension String {
    func dropPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
