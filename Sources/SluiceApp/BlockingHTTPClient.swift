#if canImport(Glibc)
public import Glibc
#endif

/// A small blocking HTTP/1.1 client over a Unix socket or loopback TCP: used by `sluice check`
/// and by the tests. One connection, keep-alive, Content-Length responses.
public final class BlockingHTTPClient {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: [UInt8]

        public var text: String { String(decoding: body, as: UTF8.self) }

        /// The first header with this name (case-insensitive).
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    private let fd: Int32
    private var pending: [UInt8] = []

    /// Connects to the Unix socket at `path`.
    public init(unixSocket path: String, timeoutSeconds: Int = 5) throws(Failure) {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        // On a throw below, deinit closes `fd` (every stored property is set): never close it here too.
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(description: "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else {
            let e = errno
            throw Failure(description: "cannot connect to \(path): \(String(cString: strerror(e)))")
        }
        setTimeout(timeoutSeconds)
    }

    /// Connects to 127.0.0.1:`port`.
    public init(loopbackPort port: Int, timeoutSeconds: Int = 5) throws(Failure) {
        fd = try Self.connectLoopback(port: port)
        setTimeout(timeoutSeconds)
    }

    /// 127.0.0.1:`port` as a socket address.
    public static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// A TCP socket connected to 127.0.0.1:`port`; the caller closes it.
    public static func connectLoopback(port: Int) throws(Failure) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        var address = loopbackAddress(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let e = errno
            close(fd)
            throw Failure(description: "cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(e)))")
        }
        return fd
    }

    deinit { if fd >= 0 { close(fd) } }

    private func setTimeout(_ seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends a request and reads its response.
    public func request(_ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = []) throws(Failure) -> Response {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: sluice\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body {
            text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            text += "\r\n"
        }
        try send(Array(text.utf8))
        return try readResponse()
    }

    /// Writes raw bytes.
    public func send(_ bytes: [UInt8]) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure(description: "write failed: errno \(errno)") }
            offset += n
        }
    }

    /// Reads one response (status line, headers, Content-Length body).
    public func readResponse() throws(Failure) -> Response {
        var headEnd: Int?
        while true {
            headEnd = Self.find([13, 10, 13, 10], in: pending)
            if headEnd != nil { break }
            try fill()
        }
        guard let end = headEnd else { throw Failure(description: "no response head") }
        let head = String(decoding: pending[..<end], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { throw Failure(description: "empty response") }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(description: "malformed status line: \(head.prefix(80))")
        }
        let headers = lines.compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingSpaces())
        }
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
        pending.removeFirst(end + 4)
        while pending.count < length { try fill() }
        let body = Array(pending[..<length])
        pending.removeFirst(length)
        if status == 100 { return try readResponse() }
        return Response(status: status, headers: headers, body: body)
    }

    /// Whatever bytes are buffered or arrive next (at least one read), unparsed.
    public func readAvailable() throws(Failure) -> [UInt8] {
        if pending.isEmpty { try fill() }
        defer { pending.removeAll() }
        return pending
    }

    /// True when the server has closed the connection (reads EOF).
    public func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        return read(fd, &byte, 1) == 0
    }

    private func fill() throws(Failure) {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { throw Failure(description: "connection closed by the server") }
        if n < 0 { throw Failure(description: "read failed: \(String(cString: strerror(errno)))") }
        pending.append(contentsOf: chunk[..<n])
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return i
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
