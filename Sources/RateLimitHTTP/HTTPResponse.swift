public import NIOCore
import RateLimitCore

/// The statuses Sluice answers with.
public enum HTTPStatus: Int, Sendable {
    case ok = 200, created = 201
    case badRequest = 400, forbidden = 403, notFound = 404, methodNotAllowed = 405, requestTimeout = 408
    case conflict = 409, payloadTooLarge = 413, unprocessable = 422, tooManyRequests = 429
    case headersTooLarge = 431
    case internalError = 500, notImplemented = 501, serviceUnavailable = 503, versionNotSupported = 505

    /// The status line, ready to write.
    var line: StaticString {
        switch self {
        case .ok: "HTTP/1.1 200 OK\r\n"
        case .created: "HTTP/1.1 201 Created\r\n"
        case .badRequest: "HTTP/1.1 400 Bad Request\r\n"
        case .forbidden: "HTTP/1.1 403 Forbidden\r\n"
        case .notFound: "HTTP/1.1 404 Not Found\r\n"
        case .methodNotAllowed: "HTTP/1.1 405 Method Not Allowed\r\n"
        case .requestTimeout: "HTTP/1.1 408 Request Timeout\r\n"
        case .conflict: "HTTP/1.1 409 Conflict\r\n"
        case .payloadTooLarge: "HTTP/1.1 413 Content Too Large\r\n"
        case .unprocessable: "HTTP/1.1 422 Unprocessable Content\r\n"
        case .tooManyRequests: "HTTP/1.1 429 Too Many Requests\r\n"
        case .headersTooLarge: "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        case .internalError: "HTTP/1.1 500 Internal Server Error\r\n"
        case .notImplemented: "HTTP/1.1 501 Not Implemented\r\n"
        case .serviceUnavailable: "HTTP/1.1 503 Service Unavailable\r\n"
        case .versionNotSupported: "HTTP/1.1 505 HTTP Version Not Supported\r\n"
        }
    }
}

/// A response being built: status, extra header lines, and a body written in place.
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    /// Extra header lines, each `Name: value\r\n`.
    public var headers: ByteBuffer
    public var body: ByteBuffer
    public var contentType: StaticString = "application/json"
    /// Close the connection after this response.
    public var close = false

    public init(status: HTTPStatus, headers: ByteBuffer, body: ByteBuffer) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Makes this an error answer: `status` and the body `{"error":"…"}`.
    public mutating func fail(_ status: HTTPStatus, _ message: String) {
        self.status = status
        body.clear()
        body.writeError(message)
    }

    public mutating func addHeader(_ name: StaticString, _ value: String) {
        headers.writeStaticString(name)
        headers.writeStaticString(": ")
        headers.writeString(value)
        headers.writeStaticString("\r\n")
    }

    /// Writes the whole response (head and body) to `out`. HEAD responses carry no body.
    public func write(to out: inout ByteBuffer, keepAlive: Bool, headOnly: Bool = false) {
        out.writeStaticString(status.line)
        out.writeStaticString("Content-Type: ")
        out.writeStaticString(contentType)
        out.writeStaticString("\r\nContent-Length: ")
        out.writeDecimal(Int64(body.readableBytes))
        out.writeStaticString("\r\n")
        if !keepAlive || close { out.writeStaticString("Connection: close\r\n") }
        var extra = headers
        out.writeBuffer(&extra)
        out.writeStaticString("\r\n")
        if !headOnly {
            var body = body
            out.writeBuffer(&body)
        }
    }
}

extension ByteBuffer {
    /// Writes a non-negative or negative integer in decimal without allocating.
    mutating func writeDecimal(_ value: Int64) {
        if value < 0 {
            writeInteger(UInt8(ascii: "-"))
            if value == .min { writeString("9223372036854775808"); return }
            writeDecimal(-value)
            return
        }
        if value < 10 {
            writeInteger(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 19 digits
        var v = UInt64(value)
        let count = withUnsafeMutableBytes(of: &digits) { raw -> Int in
            var i = raw.count
            while v > 0 {
                i -= 1
                raw[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            return raw.count - i
        }
        withUnsafeBytes(of: &digits) { raw in
            _ = writeBytes(UnsafeRawBufferPointer(rebasing: raw[(raw.count - count)...]))
        }
    }
}

extension ByteBuffer {
    /// `RateLimit-Policy: "api";q=100;w=60` and `RateLimit: "api";r=99;t=1` header lines
    /// (IETF httpapi ratelimit-headers draft), one list member per rule.
    mutating func writeRateLimitHeaders<S: Sequence>(_ entries: S) where S.Element == (String, Decision) {
        writeRateLimitHeader("RateLimit-Policy: ", entries, ";q=", ";w=") { d in (d.limit, Self.secondsRoundedUp(d.period)) }
        writeRateLimitHeader("\r\nRateLimit: ", entries, ";r=", ";t=") { d in
            (d.remaining, Self.secondsRoundedUp(d.allowed ? d.resetAfter : d.retryAfter))
        }
        writeStaticString("\r\n")
    }

    /// One of the two headers: `name`, then per rule `"RULE"FIRST=a SECOND=b`, comma-separated.
    private mutating func writeRateLimitHeader<S: Sequence>(
        _ name: StaticString, _ entries: S, _ first: StaticString, _ second: StaticString, _ values: (Decision) -> (Int64, Int64)
    ) where S.Element == (String, Decision) {
        writeStaticString(name)
        for (i, (rule, d)) in entries.enumerated() {
            if i > 0 { writeStaticString(", ") }
            writeRuleName(rule)
            let (a, b) = values(d)
            writeStaticString(first)
            writeDecimal(a)
            writeStaticString(second)
            writeDecimal(b)
        }
    }

    /// `Retry-After: SECONDS` (rounded up, so a client that waits this long is never early).
    mutating func writeRetryAfter(_ ns: Nanoseconds) {
        writeStaticString("Retry-After: ")
        writeDecimal(Self.secondsRoundedUp(ns))
        writeStaticString("\r\n")
    }

    /// A rule name as a structured-field string (names are [A-Za-z0-9_.-], nothing to escape).
    private mutating func writeRuleName(_ rule: String) {
        writeInteger(UInt8(ascii: "\""))
        writeString(rule)
        writeInteger(UInt8(ascii: "\""))
    }

    static func secondsRoundedUp(_ ns: Nanoseconds) -> Int64 {
        ns <= 0 ? 0 : (ns - 1) / 1_000_000_000 + 1
    }
}
