import Foundation
import SluiceApp
#if canImport(Glibc)
import Glibc
#endif

/// A real `redis-server` on a free loopback port, for the tests; stopped by `stop()`.
/// The port stays the same across `kill()` + `start()`, so a restart looks like a real one.
public final class RedisServerProcess: @unchecked Sendable {  // used from one test at a time; Process is not Sendable
    public let port: Int
    /// The TLS port (requiring a client certificate) when started with `tls`, else nil.
    public let tlsPort: Int?
    public let directory: TemporaryDirectory
    private var process: Process?
    private let extraArguments: [String]
    private let leadingArguments: [String]

    /// `redis-server` on PATH, or nil (then the test is skipped, or fails under SLUICE_REQUIRE_TOOLS=1).
    public static var executable: String? { which("redis-server") }

    /// Whether a missing tool must fail the test rather than skip it.
    public static var toolsRequired: Bool { ProcessInfo.processInfo.environment["SLUICE_REQUIRE_TOOLS"] == "1" }

    /// Starts redis-server (with `arguments` added, e.g. `--requirepass`) and waits, with a
    /// deadline, until it answers PING. With `tls`, it also listens on `tlsPort` with those
    /// certificates and requires clients to present one signed by their CA.
    /// `leadingArguments` go first (a config file, as `redis-server FILE --sentinel` needs).
    public init(arguments: [String] = [], tls: TestCertificates? = nil, port: Int? = nil, leadingArguments: [String] = []) throws {
        guard Self.executable != nil else { throw Failure(description: "redis-server is not installed") }
        self.port = port ?? freeLoopbackPort()
        self.leadingArguments = leadingArguments
        if let tls {
            let tlsPort = freeLoopbackPort()
            self.tlsPort = tlsPort
            extraArguments = arguments + [
                "--tls-port", String(tlsPort), "--tls-cert-file", tls.serverCert, "--tls-key-file", tls.serverKey,
                "--tls-ca-cert-file", tls.caFile, "--tls-auth-clients", "yes",
            ]
        } else {
            tlsPort = nil
            extraArguments = arguments
        }
        directory = TemporaryDirectory()
        try start()
    }

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    /// Starts (or restarts) the server on the same port; an empty dataset each time.
    public func start() throws {
        guard let executable = Self.executable else { throw Failure(description: "redis-server is not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = leadingArguments + [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--logfile", directory.file("redis.log"),
        ] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        // With --requirepass, PING answers NOAUTH: the server is up all the same.
        guard poll(timeout: .seconds(10), { ["+PONG", "-NOAUTH"].contains { (try? self.command(["PING"]))?.hasPrefix($0) == true } }) else {
            throw Failure(description: "redis-server did not answer PING on port \(port)")
        }
    }

    /// SIGKILL, and wait until it is gone.
    public func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGSTOP / SIGCONT: a Redis that accepts connections but never answers.
    public func pause() { process.map { _ = Glibc.kill($0.processIdentifier, SIGSTOP) } }
    public func resume() { process.map { _ = Glibc.kill($0.processIdentifier, SIGCONT) } }

    public func stop() {
        resume()
        kill()
        directory.remove()
    }

    /// Sends one command (inline form) on a fresh connection; the first reply line, or "" when
    /// none arrives within `replyTimeoutMilliseconds`.
    public func command(_ words: [String], replyTimeoutMilliseconds: Int = 2000) throws -> String {
        let client = try BlockingLineClient(port: port, replyTimeoutMilliseconds: replyTimeoutMilliseconds)
        return try client.roundTrip(words.joined(separator: " ") + "\r\n")
    }

    deinit { kill() }
}

/// A tiny blocking TCP client that sends a line and reads one reply line (for PING, DBSIZE …).
struct BlockingLineClient {
    let fd: Int32

    init(port: Int, replyTimeoutMilliseconds: Int) throws {
        fd = try BlockingHTTPClient.connectLoopback(port: port)
        var timeout = timeval(tv_sec: replyTimeoutMilliseconds / 1000, tv_usec: Int(replyTimeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func roundTrip(_ text: String) throws -> String {
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            throw RedisServerProcess.Failure(description: "send failed")
        }
        var reply: [UInt8] = []
        var byte: UInt8 = 0
        while recv(fd, &byte, 1, 0) == 1 {
            if byte == 10 { break }
            if byte != 13 { reply.append(byte) }
        }
        return String(decoding: reply, as: UTF8.self)
    }
}
