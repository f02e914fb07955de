import Foundation

/// A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate, made
/// by `openssl` in a temporary directory; plus a second, unrelated CA (the "wrong CA").
public struct TestCertificates: Sendable {
    public let directory: TemporaryDirectory
    public var caFile: String { directory.file("ca.crt") }
    public var serverCert: String { directory.file("server.crt") }
    public var serverKey: String { directory.file("server.key") }
    public var clientCert: String { directory.file("client.crt") }
    public var clientKey: String { directory.file("client.key") }
    public var wrongCAFile: String { directory.file("wrong-ca.crt") }

    /// `openssl` on PATH, or nil (then the test is skipped, or fails under SLUICE_REQUIRE_TOOLS=1).
    public static var executable: String? { which("openssl") }

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public init() throws {
        guard let openssl = Self.executable else { throw Failure(description: "openssl is not installed") }
        directory = TemporaryDirectory()
        try directory.write("ext.cnf", """
            [server]
            subjectAltName=IP:127.0.0.1,DNS:localhost
            extendedKeyUsage=serverAuth
            [client]
            extendedKeyUsage=clientAuth

            """)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let ca = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        for name in ["ca", "wrong-ca"] {
            try run(openssl, ["req", "-x509"] + key + ca + [
                "-keyout", directory.file("\(name).key"), "-out", directory.file("\(name).crt"), "-days", "2", "-subj", "/CN=sluice-test-\(name)",
            ])
        }
        for (serial, name) in ["server", "client"].enumerated() {
            try run(openssl, ["req"] + key + [
                "-keyout", directory.file("\(name).key"), "-out", directory.file("\(name).csr"), "-subj", "/CN=sluice-test-\(name)",
            ])
            try run(openssl, [
                "x509", "-req", "-in", directory.file("\(name).csr"), "-CA", caFile, "-CAkey", directory.file("ca.key"),
                "-set_serial", String(serial + 2), "-days", "2", "-out", directory.file("\(name).crt"),
                "-extfile", directory.file("ext.cnf"), "-extensions", name,
            ])
        }
    }

    private func run(_ openssl: String, _ arguments: [String]) throws {
        let result = try runCommand(openssl, arguments)
        guard result.status == 0 else { throw Failure(description: "openssl \(arguments[0]) failed: \(result.stderr)") }
    }

    public func remove() { directory.remove() }
}
