public import NIOCore

/// An HTTP method Sluice distinguishes.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, other
}

/// One complete HTTP/1.x request.
public struct HTTPRequest: Sendable, Equatable {
    public var method: HTTPMethod
    /// The path, without the query.
    public var path: String
    /// The raw query string (after `?`), percent-encoded.
    public var query: String
    public var body: ByteBuffer
    /// Whether the connection may carry another request after this one.
    public var keepAlive: Bool
}

/// Why a request could not be read: each maps to a status and the connection is closed after it.
public enum HTTPParseError: Error, Sendable, Equatable {
    case badRequest(String)
    case headersTooLarge
    case bodyTooLarge
    case notImplemented(String)
    case versionNotSupported

    public var status: HTTPStatus {
        switch self {
        case .badRequest: .badRequest
        case .headersTooLarge: .headersTooLarge
        case .bodyTooLarge: .payloadTooLarge
        case .notImplemented: .notImplemented
        case .versionNotSupported: .versionNotSupported
        }
    }

    public var message: String {
        switch self {
        case .badRequest(let why): why
        case .headersTooLarge: "request headers are larger than \(HTTPRequestParser.Limits.default.maxHeaderBytes) bytes"
        case .bodyTooLarge: "request body is larger than \(HTTPRequestParser.Limits.default.maxBodyBytes) bytes"
        case .notImplemented(let what): "\(what) is not supported"
        case .versionNotSupported: "only HTTP/1.0 and HTTP/1.1 are supported"
        }
    }
}

/// A small, strict HTTP/1.1 request parser over a `ByteBuffer`: Content-Length and chunked
/// bodies, keep-alive, pipelining (call `next` until it returns nil). Pure: no I/O.
///
/// Bytes of a request are consumed only once the whole request has arrived; partial requests
/// stay in the buffer and the scan resumes where it stopped.
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable {
        public var maxHeaderBytes: Int
        public var maxBodyBytes: Int
        public static let `default` = Limits(maxHeaderBytes: 16 * 1024, maxBodyBytes: 64 * 1024)
        public init(maxHeaderBytes: Int, maxBodyBytes: Int) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxBodyBytes = maxBodyBytes
        }
    }

    struct Head: Sendable {
        var method: HTTPMethod
        var path: String
        var query: String
        var keepAlive: Bool
        var headLength: Int
        var framing: Framing
        var expectsContinue: Bool
    }

    enum Framing: Sendable {
        case length(Int)
        case chunked
    }

    struct ChunkScan: Sendable {
        var offset: Int  // relative to the request start
        var body: ByteBuffer
    }

    public let limits: Limits
    private var head: Head?
    private var chunks: ChunkScan?
    private var scannedHeaderBytes = 0
    /// Empty lines consumed before the current request (they count toward the head limit).
    private var leadingEmptyLines = 0
    /// True once a `100 Continue` was owed for the current request.
    public private(set) var continueOwed = false

    public init(limits: Limits = .default) {
        self.limits = limits
    }

    /// True when part of a request has arrived but not all of it.
    public func hasPartialRequest(_ buffer: ByteBuffer) -> Bool {
        head != nil || buffer.readableBytes > 0
    }

    /// The next complete request in `buffer` (consumed), or nil when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer) throws(HTTPParseError) -> HTTPRequest? {
        if head == nil {
            try skipEmptyLines(&buffer)
            guard let parsed = try parseHead(buffer) else { return nil }
            head = parsed
            continueOwed = parsed.expectsContinue
        }
        guard let head else { return nil }
        let body: ByteBuffer
        let total: Int
        switch head.framing {
        case .length(let n):
            guard buffer.readableBytes >= head.headLength + n else { return nil }
            body = buffer.getSlice(at: buffer.readerIndex + head.headLength, length: n) ?? ByteBuffer()
            total = head.headLength + n
        case .chunked:
            guard let (decoded, length) = try scanChunked(buffer, headLength: head.headLength) else { return nil }
            body = decoded
            total = length
        }
        buffer.moveReaderIndex(forwardBy: total)
        self.head = nil
        self.chunks = nil
        self.scannedHeaderBytes = 0
        self.leadingEmptyLines = 0
        self.continueOwed = false
        return HTTPRequest(method: head.method, path: head.path, query: head.query, body: body, keepAlive: head.keepAlive)
    }

    /// Marks the owed `100 Continue` as sent.
    public mutating func continueSent() { continueOwed = false }

    // MARK: head

    /// Consumes the empty lines before a request (RFC 9112 §2.2 lets a server ignore them), so
    /// they are never scanned twice; together with the head they must fit the head limit
    /// (a `\r\n` flood was rescanned on every read: red team 2, F3).
    private mutating func skipEmptyLines(_ buffer: inout ByteBuffer) throws(HTTPParseError) {
        while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
            buffer.moveReaderIndex(forwardBy: 2)
            leadingEmptyLines += 1
            if leadingEmptyLines * 2 > limits.maxHeaderBytes { throw .headersTooLarge }
        }
        // Garbage (a TLS ClientHello, binary) is refused at its first byte, not after the
        // request timeout: a request line starts with a method token.
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first != 13, !Self.isTokenByte(first) {
            throw .badRequest("malformed request line")
        }
    }

    private mutating func parseHead(_ buffer: ByteBuffer) throws(HTTPParseError) -> Head? {
        let start = buffer.readerIndex
        let available = buffer.readableBytes
        let lead = 0
        let searchFrom = max(lead, scannedHeaderBytes - 3)
        let end = buffer.withUnsafeReadableBytes { raw -> Int? in
            var i = searchFrom
            while i + 3 < raw.count {
                if raw[i] == 13, raw[i + 1] == 10, raw[i + 2] == 13, raw[i + 3] == 10 { return i }
                i += 1
            }
            return nil
        }
        guard let end else {
            scannedHeaderBytes = available
            // Up to 3 bytes of the terminating CRLFCRLF may be here already, so the head is at
            // least `available - lead - 3` bytes: the same verdict as when it all arrives at once.
            if available - lead - 3 + leadingEmptyLines * 2 > limits.maxHeaderBytes { throw .headersTooLarge }
            return nil
        }
        if end - lead + leadingEmptyLines * 2 > limits.maxHeaderBytes { throw .headersTooLarge }
        // The head with its last line's CRLF (not the blank line's).
        let view = buffer.getSlice(at: start + lead, length: end + 2 - lead) ?? ByteBuffer()
        var head = try Self.parseHeadBytes(view, limits: limits)
        head.headLength = end + 4
        return head
    }

    static func parseHeadBytes(_ view: ByteBuffer, limits: Limits) throws(HTTPParseError) -> Head {
        try view.withUnsafeReadableBytes { raw throws(HTTPParseError) -> Head in
            try parseHead(raw, limits: limits)
        }
    }

    /// Parses `request-line CRLF *(header CRLF)` without allocating (but for the path string).
    static func parseHead(_ b: UnsafeRawBufferPointer, limits: Limits) throws(HTTPParseError) -> Head {
        let n = b.count
        // Request line: METHOD SP TARGET SP VERSION CRLF
        var i = 0
        while i < n, isTokenByte(b[i]) { i += 1 }
        let methodEnd = i
        guard methodEnd > 0, i < n, b[i] == 32 else { throw .badRequest("malformed request line") }
        i += 1
        let targetStart = i
        var queryStart = -1
        while i < n, b[i] > 32, b[i] < 127 {
            if queryStart < 0, b[i] == UInt8(ascii: "?") { queryStart = i }
            i += 1
        }
        let targetEnd = i
        guard targetEnd > targetStart, i < n, b[i] == 32 else { throw .badRequest("malformed request line") }
        guard b[targetStart] == UInt8(ascii: "/") else { throw .badRequest("request target must be an origin-form path") }
        i += 1
        guard i + 10 <= n, b[i + 8] == 13, b[i + 9] == 10 else { throw .badRequest("malformed request line") }
        let http11: Bool
        if matches(b, i, "HTTP/1.1") {
            http11 = true
        } else if matches(b, i, "HTTP/1.0") {
            http11 = false
        } else if matches(b, i, "HTTP/") {
            throw .versionNotSupported
        } else {
            throw .badRequest("malformed request line")
        }
        i += 10
        let method: HTTPMethod
        switch methodEnd {
        case 3 where matches(b, 0, "GET"): method = .get
        case 3 where matches(b, 0, "PUT"): method = .put
        case 4 where matches(b, 0, "POST"): method = .post
        case 4 where matches(b, 0, "HEAD"): method = .head
        case 6 where matches(b, 0, "DELETE"): method = .delete
        default: method = .other
        }
        let pathEnd = queryStart >= 0 ? queryStart : targetEnd
        let path = String(decoding: UnsafeRawBufferPointer(rebasing: b[targetStart..<pathEnd]), as: UTF8.self)
        let query = queryStart >= 0
            ? String(decoding: UnsafeRawBufferPointer(rebasing: b[(queryStart + 1)..<targetEnd]), as: UTF8.self) : ""

        var contentLength: Int?
        var chunked = false
        var keepAlive = http11
        var expectsContinue = false
        var sawClose = false
        while i < n {
            // name ":" OWS value OWS CRLF
            let nameStart = i
            while i < n, isTokenByte(b[i]) { i += 1 }
            guard i > nameStart, i < n, b[i] == UInt8(ascii: ":") else {
                throw .badRequest(i == nameStart ? "malformed header line" : "malformed header name")
            }
            let nameEnd = i
            i += 1
            while i < n, b[i] == 32 || b[i] == 9 { i += 1 }
            let valueStart = i
            while i < n, b[i] != 13 {
                guard b[i] == 9 || (b[i] >= 32 && b[i] != 127) else { throw .badRequest("header value contains control characters") }
                i += 1
            }
            guard i + 1 < n, b[i + 1] == 10 else { throw .badRequest("header lines must end with CRLF") }
            var valueEnd = i
            while valueEnd > valueStart, b[valueEnd - 1] == 32 || b[valueEnd - 1] == 9 { valueEnd -= 1 }
            i += 2
            let name = UnsafeRawBufferPointer(rebasing: b[nameStart..<nameEnd])
            let value = UnsafeRawBufferPointer(rebasing: b[valueStart..<valueEnd])
            switch name.count {
            case 14 where equalsIgnoringCase(name, "content-length"):
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                    throw .badRequest("invalid Content-Length")
                }
                let length = value.reduce(0) { $0 * 10 + Int($1 - 48) }
                if let previous = contentLength, previous != length { throw .badRequest("conflicting Content-Length headers") }
                contentLength = length
            case 17 where equalsIgnoringCase(name, "transfer-encoding"):
                guard equalsIgnoringCase(value, "chunked"), !chunked else {
                    throw .notImplemented("Transfer-Encoding other than a single chunked")
                }
                chunked = true
            case 10 where equalsIgnoringCase(name, "connection"):
                // `close` wins over `keep-alive` in any order (red team 2, F22).
                for token in value.split(separator: UInt8(ascii: ",")) {
                    let t = trim(token)
                    if equalsIgnoringCase(t, "close") { sawClose = true }
                    if equalsIgnoringCase(t, "keep-alive") { keepAlive = true }
                }
            case 6 where equalsIgnoringCase(name, "expect"):
                guard equalsIgnoringCase(value, "100-continue") else { throw .badRequest("unsupported Expect header") }
                expectsContinue = http11
            default:
                break
            }
        }
        if sawClose { keepAlive = false }
        if chunked, contentLength != nil {
            throw .badRequest("Content-Length and Transfer-Encoding must not both be present")
        }
        if chunked, !http11 { throw .badRequest("chunked encoding requires HTTP/1.1") }
        let length = contentLength ?? 0
        if length > limits.maxBodyBytes { throw .bodyTooLarge }
        return Head(
            method: method, path: path, query: query, keepAlive: keepAlive, headLength: 0,
            framing: chunked ? .chunked : .length(length), expectsContinue: expectsContinue && (chunked || length > 0))
    }

    private static func matches(_ b: UnsafeRawBufferPointer, _ at: Int, _ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard at + count <= b.count else { return false }
        return text.withUTF8Buffer { t in
            for k in 0..<count where b[at + k] != t[k] { return false }
            return true
        }
    }

    // MARK: chunked body

    /// Decodes as much of a chunked body as has arrived; the body and the request's total length
    /// once the last chunk and trailers are in.
    private mutating func scanChunked(_ buffer: ByteBuffer, headLength: Int) throws(HTTPParseError) -> (ByteBuffer, Int)? {
        var scan = chunks ?? ChunkScan(offset: headLength, body: ByteBuffer())
        defer { chunks = scan }
        let base = buffer.readerIndex
        let end = buffer.readableBytes
        // A line too long is refused whether or not its CRLF has arrived (when it has not, its
        // CR may be the last byte here), so the verdict never depends on how the bytes were split.
        while true {
            guard let lineEnd = Self.findCRLF(buffer, from: base + scan.offset, to: base + end) else {
                if end - scan.offset - 1 > Self.maxChunkLine { throw .badRequest("malformed chunk size line") }
                return nil
            }
            if lineEnd - base - scan.offset > Self.maxChunkLine { throw .badRequest("malformed chunk size line") }
            let sizeLine = buffer.getSlice(at: base + scan.offset, length: lineEnd - base - scan.offset) ?? ByteBuffer()
            let sizeText = sizeLine.readableBytesView.prefix { $0 != UInt8(ascii: ";") }
            // Extensions are ignored, but must be visible ASCII (no CR, LF, NUL or other control).
            guard sizeLine.readableBytesView.dropFirst(sizeText.count).allSatisfy({ $0 == 9 || ($0 >= 32 && $0 < 127) }) else {
                throw .badRequest("malformed chunk extension")
            }
            guard !sizeText.isEmpty, sizeText.count <= 8,
                  sizeText.allSatisfy({ (48...57).contains($0) || (65...70).contains($0) || (97...102).contains($0) }),  // hex digits only: no sign
                  let size = Int(String(decoding: sizeText, as: UTF8.self), radix: 16), size >= 0 else {
                throw .badRequest("malformed chunk size")
            }
            let dataStart = lineEnd + 2 - base
            if size == 0 {
                // Trailers: lines until an empty one, at most maxHeaderBytes in all.
                var cursor = dataStart
                while true {
                    guard let trailerEnd = Self.findCRLF(buffer, from: base + cursor, to: base + end) else {
                        if end - dataStart - 1 > limits.maxHeaderBytes { throw .headersTooLarge }
                        return nil
                    }
                    if trailerEnd - base - dataStart > limits.maxHeaderBytes { throw .headersTooLarge }
                    let emptyLine = trailerEnd == base + cursor
                    if !emptyLine { try Self.validateTrailer(buffer, from: base + cursor, to: trailerEnd) }
                    cursor = trailerEnd + 2 - base
                    if emptyLine { return (scan.body, cursor) }
                }
            }
            // Everything on the wire counts, sizes and extensions included, not just the data:
            // 1-byte chunks with 1 KiB extensions held 61 MB per request (red team 2, F7).
            if (dataStart - headLength) + size + 2 > limits.maxBodyBytes { throw .bodyTooLarge }
            guard end >= dataStart + size + 2 else { return nil }
            guard buffer.getInteger(at: base + dataStart + size, as: UInt16.self) == 0x0D0A else {
                throw .badRequest("chunk data must end with CRLF")
            }
            if var data = buffer.getSlice(at: base + dataStart, length: size) { scan.body.writeBuffer(&data) }
            scan.offset = dataStart + size + 2
        }
    }

    /// A trailer line is `name: value` with a token name and no control characters.
    private static func validateTrailer(_ buffer: ByteBuffer, from: Int, to: Int) throws(HTTPParseError) {
        let line = buffer.getSlice(at: from, length: to - from)?.readableBytesView ?? ByteBuffer().readableBytesView
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
              line[line.startIndex..<colon].allSatisfy(isTokenByte),
              line[(colon + 1)...].allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) })
        else { throw .badRequest("malformed trailer line") }
    }

    /// Longest chunk-size line (size and extensions), without its CRLF.
    static let maxChunkLine = 1024

    private static func findCRLF(_ buffer: ByteBuffer, from: Int, to: Int) -> Int? {
        var i = from
        while i + 1 < to {
            if buffer.getInteger(at: i, as: UInt8.self) == 13, buffer.getInteger(at: i + 1, as: UInt8.self) == 10 { return i }
            i += 1
        }
        return nil
    }

    // MARK: bytes

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    static func trim<C: BidirectionalCollection>(_ bytes: C) -> C.SubSequence where C.Element == UInt8 {
        let isSpace: (UInt8) -> Bool = { $0 == 32 || $0 == 9 }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else {
            return bytes[bytes.endIndex...]
        }
        return bytes[first...last]
    }

    static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ lower: StaticString) -> Bool where C.Element == UInt8 {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        return lower.withUTF8Buffer { expected in
            zip(bytes, expected).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
        }
    }
}
