public import NIOSSL
public import RateLimitCore

/// TLS to Redis: `rediss://` (the system trust store, the URL's host checked against the
/// certificate) or `backend.redis.tls` (a private CA, a client certificate, another name).
public typealias RedisTLS = RedisTLSFiles

extension RedisTLSFiles {
    /// A setting that cannot be used, named by its config field (`ca_file`, `cert_file`, `key_file`).
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var field: String
        public var message: String
        public var description: String { "\(field): \(message)" }
    }

    /// The client context; reads the files now, so a bad one is a start error naming its field.
    public func makeContext() throws(Problem) -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            let roots = try Self.load("ca_file", caFile) { try NIOSSLCertificate.fromPEMFile(caFile) }
            guard !roots.isEmpty else { throw Problem(field: "ca_file", message: "\(caFile) holds no PEM certificate") }
            configuration.trustRoots = .certificates(roots)
        }
        switch (certFile, keyFile) {
        case (nil, nil): break
        case (let certFile?, let keyFile?):
            let chain = try Self.load("cert_file", certFile) { try NIOSSLCertificate.fromPEMFile(certFile) }
            let key = try Self.load("key_file", keyFile) { try NIOSSLPrivateKey(file: keyFile, format: .pem) }
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        case (nil, _): throw Problem(field: "cert_file", message: "is required with key_file")
        case (_, nil): throw Problem(field: "key_file", message: "is required with cert_file")
        }
        return try Self.load("tls", "the TLS settings") { try NIOSSLContext(configuration: configuration) }
    }

    /// The name to verify and send as SNI for `host`: `serverName`, else the host unless it is
    /// an IP address (SNI carries no addresses; the certificate's IP SANs are checked instead).
    func hostname(for host: String) -> String? {
        if let serverName { return serverName }
        let isAddress = host.contains(":") || host.split(separator: ".").allSatisfy { UInt8($0) != nil }
        return isAddress ? nil : host
    }

    private static func load<T>(_ field: String, _ path: String, _ body: () throws -> T) throws(Problem) -> T {
        do { return try body() } catch { throw Problem(field: field, message: "cannot use \(path): \(error)") }
    }
}
