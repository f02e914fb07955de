// Calling Sluice over its Unix socket from Swift on Linux, with no dependencies (Glibc + Foundation).
//
//     swift examples/clients/Client.swift [SOCKET]      (default /tmp/sluice.sock)
//
// A blocking client with one keep-alive connection; use one per thread. In a SwiftNIO /
// AsyncHTTPClient application, use AsyncHTTPClient's Unix-socket URLs instead:
//     URL(httpURLWithSocketPath: "/tmp/sluice.sock", uri: "/v1/check")
import Foundation
import Glibc

struct Decision: Decodable {
    var rule: String?  // set in batch results
    var key: String?
    var allowed: Bool
    var limit: Int64
    var remaining: Int64
    var resetAfterMs: Int64
    var retryAfterMs: Int64
    var delayMs: Int64  // leaky_bucket: wait this long before proceeding
    var shadowDenied: Bool?
}

struct Batch: Decodable {
    var allowed: Bool
    var results: [Decision]
}

struct Check: Encodable {
    var rule: String
    var key: String
    var cost: Int64 = 1
}

enum SluiceError: Error {
    case unreachable(String)  // no socket, connection refused, timeout
    case api(status: Int, message: String)  // 400 bad field, 404 unknown rule, 503 shedding, ...
}

final class SluiceClient {
    let socketPath: String
    private var fd: Int32 = -1
    private let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase  // reset_after_ms -> resetAfterMs
        return d
    }()

    init(socketPath: String = "/tmp/sluice.sock") { self.socketPath = socketPath }
    deinit { disconnect() }

    /// Decides and consumes `cost` for `key` under `rule` (200 allowed, 429 denied).
    func check(rule: String, key: String, cost: Int64 = 1) throws -> Decision {
        try decode(Decision.self, request("POST", "/v1/check", body: Check(rule: rule, key: key, cost: cost)))
    }

    /// Several checks together: allowed only if all allow; a denied batch consumes nothing.
    func checkAll(_ checks: [Check]) throws -> Batch {
        try decode(Batch.self, request("POST", "/v1/check", body: ["checks": checks]))
    }

    /// The answer `check` would give, consuming nothing.
    func status(rule: String, key: String, cost: Int64 = 1) throws -> Decision {
        var query = URLComponents()
        query.queryItems = [.init(name: "rule", value: rule), .init(name: "key", value: key), .init(name: "cost", value: "\(cost)")]
        return try decode(Decision.self, request("GET", "/v1/status?\(query.percentEncodedQuery ?? "")", body: Optional<Check>.none))
    }

    /// Forgets the key's state under the rule.
    func reset(rule: String, key: String) throws {
        _ = try request("POST", "/v1/reset", body: ["rule": rule, "key": key])
    }

    // MARK: HTTP/1.1 over the socket

    private func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws -> T {
        try decoder.decode(type, from: body)
    }

    /// Sends one request; returns the body of a 200/201/429 answer, throws for the others.
    private func request<Body: Encodable>(_ method: String, _ target: String, body: Body?) throws -> Data {
        let payload = try body.map { try JSONEncoder().encode($0) } ?? Data()
        var message = Data("\(method) \(target) HTTP/1.1\r\nHost: sluice\r\n".utf8)
        message.append(Data("Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n".utf8))
        message.append(payload)
        // Sluice closes idle keep-alive connections (after 60 s); then reconnect and resend once.
        for attempt in 1...2 {
            if fd < 0 { try connect() }
            if let answer = try? exchange(message) {
                let (status, body, keepAlive) = answer
                if !keepAlive { disconnect() }
                guard [200, 201, 429].contains(status) else {
                    let error = (try? JSONDecoder().decode([String: String].self, from: body))?["error"] ?? ""
                    throw SluiceError.api(status: status, message: error)
                }
                return body
            }
            disconnect()
            if attempt == 2 { throw SluiceError.unreachable("connection to \(socketPath) failed") }
        }
        fatalError("unreachable")
    }

    private func connect() throws {
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw SluiceError.unreachable("socket(): errno \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 500_000)  // bound every read and write
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Glibc.close(s)
            throw SluiceError.unreachable("socket path too long")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(s)
            throw SluiceError.unreachable("connect(\(socketPath)): \(String(cString: strerror(code)))")
        }
        fd = s
    }

    private func disconnect() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private struct Closed: Error {}

    /// Writes the request, reads one response: (status, body, keep-alive).
    private func exchange(_ message: Data) throws -> (Int, Data, Bool) {
        try message.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw Closed() }
                sent += n
            }
        }
        var buffer = Data()
        var chunk = [UInt8](repeating: 0, count: 4096)
        func fill() throws {
            let n = recv(fd, &chunk, chunk.count, 0)
            guard n > 0 else { throw Closed() }
            buffer.append(contentsOf: chunk[0..<n])
        }
        let separator = Data("\r\n\r\n".utf8)
        var headEnd = buffer.range(of: separator)
        while headEnd == nil {
            try fill()
            headEnd = buffer.range(of: separator)
        }
        let head = String(decoding: buffer[..<headEnd!.lowerBound], as: UTF8.self).split(separator: "\r\n")
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var length = 0
        var keepAlive = true
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0].lowercased() {
            case "content-length": length = Int(parts[1]) ?? 0
            case "connection": keepAlive = parts[1].lowercased() != "close"
            default: break
            }
        }
        let bodyStart = headEnd!.upperBound
        while buffer.count - (bodyStart - buffer.startIndex) < length { try fill() }
        return (status, Data(buffer[bodyStart..<(bodyStart + length)]), keepAlive)
    }
}

// MARK: example

let client = SluiceClient(socketPath: CommandLine.arguments.dropFirst().first ?? "/tmp/sluice.sock")
do {
    for i in 1...6 {  // the default "login" rule: 5 per minute
        let d = try client.check(rule: "login", key: "carol")
        print(i, d.allowed ? "allowed, \(d.remaining) left" : "denied, retry in \(d.retryAfterMs) ms")
    }
    print("status:", try client.status(rule: "login", key: "carol", cost: 0))
    let batch = try client.checkAll([Check(rule: "default", key: "user-9"), Check(rule: "login", key: "user-9", cost: 2)])
    print("batch allowed:", batch.allowed, batch.results.map(\.remaining))
    do {
        _ = try client.check(rule: "login", key: "carol", cost: 6)  // more than the rule can ever grant
    } catch SluiceError.api(let status, let message) {
        print("error:", status, message)
    }
    try client.reset(rule: "login", key: "carol")
    // A leaky_bucket rule answers allowed with a delay: wait it out before proceeding.
    let d = try client.check(rule: "login", key: "carol")
    if d.allowed, d.delayMs > 0 { usleep(UInt32(d.delayMs) * 1000) }
    print("after reset:", d.allowed)
} catch {
    // Sluice unreachable: the application decides whether to fail open or closed.
    print("sluice:", error)
    exit(1)
}
