/// TLS to Redis from PEM files: `backend.redis.tls` in the config, and what the Redis store
/// makes its TLS context from (`RedisTLS` there, `RedisTLSSettings` in the config).
public struct RedisTLSFiles: Sendable, Equatable {
    /// PEM file of the CAs to trust instead of the system trust store.
    public var caFile: String?
    /// PEM client certificate and its key, for servers that require one (`tls-auth-clients yes`).
    public var certFile: String?
    public var keyFile: String?
    /// The name the server's certificate must carry (and the SNI sent); by default the host.
    public var serverName: String?

    public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
        self.serverName = serverName
    }
}
