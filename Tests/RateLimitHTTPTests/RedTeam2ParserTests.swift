import NIOCore
import RateLimitConfig
import RateLimitCore
import RateLimitHTTP
import Testing

/// Regression tests for the parser findings of red team 2 (`shared/reports/redteam-2.md`).
@Suite struct RedTeam2ParserTests {
    private func parse(_ text: String, limits: HTTPRequestParser.Limits = .default) throws(HTTPParseError) -> [HTTPRequest] {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer(string: text)
        var out: [HTTPRequest] = []
        while let request = try parser.next(&buffer) { out.append(request) }
        return out
    }

    /// F3: empty lines before a request are consumed as they arrive (never rescanned), and a
    /// flood of them is refused once it passes the head limit.
    @Test func leadingEmptyLinesAreConsumedAndBounded() throws {
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer()
        for _ in 0..<100 {
            buffer.writeString("\r\n")
            #expect(try parser.next(&buffer) == nil)
            #expect(buffer.readableBytes == 0)  // consumed: the next read scans only new bytes
        }
        buffer.writeString("GET /healthz HTTP/1.1\r\n\r\n")
        #expect(try parser.next(&buffer)?.path == "/healthz")

        var flood = HTTPRequestParser()
        var many = ByteBuffer(string: String(repeating: "\r\n", count: 8 * 1024 + 1))
        #expect(throws: HTTPParseError.headersTooLarge) { try flood.next(&many) }
        // The empty lines count toward the head limit together with the head itself.
        let head = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 16 * 1024 - 200) + "\r\n\r\n"
        #expect(throws: HTTPParseError.headersTooLarge) { try parse(String(repeating: "\r\n", count: 200) + head) }
        #expect(try parse(String(repeating: "\r\n", count: 10) + head).count == 1)
    }

    /// F22: garbage is refused at its first byte instead of waiting for the request timeout.
    @Test func garbageIsRefusedAtOnce() {
        var parser = HTTPRequestParser()
        var tls = ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x02, 0x00])  // a TLS ClientHello's start
        #expect(throws: HTTPParseError.self) { try parser.next(&tls) }
        var lf = HTTPRequestParser()
        var bare = ByteBuffer(string: "\n\n")
        #expect(throws: HTTPParseError.self) { try lf.next(&bare) }
    }

    /// F7: a chunked body's wire size (sizes, extensions, CRLFs) counts against the body cap.
    @Test func chunkExtensionsCountAgainstTheBodyCap() throws {
        let chunk = "1;" + String(repeating: "x", count: 1000) + "\r\na\r\n"
        let request = "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: chunk, count: 70)
        #expect(throws: HTTPParseError.bodyTooLarge) { try parse(request) }
        // Refused as it arrives, before the last chunk: nothing waits for the end to be counted.
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer(string: "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        var refusedAfter = 0
        do {
            for i in 1...100 {
                buffer.writeString(chunk)
                _ = try parser.next(&buffer)
                refusedAfter = i
            }
        } catch {
            #expect(error == .bodyTooLarge)
        }
        #expect(refusedAfter < 70)
        // An ordinary chunked body still passes.
        let body = #"{"rule":"api","key":"k"}"#
        let ok = "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\(String(body.utf8.count, radix: 16));name=v\r\n\(body)\r\n0\r\n\r\n"
        #expect(String(buffer: try parse(ok)[0].body) == body)
    }

    /// F22: chunk extensions and trailers are validated.
    @Test func chunkExtensionsAndTrailersAreValidated() {
        let start = "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(throws: HTTPParseError.self) { try parse(start + "5;a\u{0}b\r\nhello\r\n0\r\n\r\n") }
        #expect(throws: HTTPParseError.self) { try parse(start + "5;a\nb\r\nhello\r\n0\r\n\r\n") }
        #expect(throws: HTTPParseError.self) { try parse(start + "5\r\nhello\r\n0\r\nno colon here\r\n\r\n") }
        #expect(throws: HTTPParseError.self) { try parse(start + "5\r\nhello\r\n0\r\nX: a\u{1}b\r\n\r\n") }
        #expect((try? parse(start + "5\r\nhello\r\n0\r\nX-Trailer: fine\r\n\r\n"))?.count == 1)
    }

    /// F22: `Connection: close` wins over `keep-alive`, in either order.
    @Test func closeWinsOverKeepAlive() throws {
        #expect(try parse("GET / HTTP/1.1\r\nConnection: close, keep-alive\r\n\r\n")[0].keepAlive == false)
        #expect(try parse("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n")[0].keepAlive == false)
        #expect(try parse("GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n")[0].keepAlive == false)
    }
}

/// F22: durations and query escapes are strict.
@Suite struct StrictSyntaxTests {
    @Test func durationsTakeEachUnitOnceLargestFirst() {
        #expect(DurationParser.parse("1m30s") == 90_000_000_000)
        #expect(DurationParser.parse("1d1ms") == 86_400_001_000_000)
        for bad in ["1s1s", "1ms1d", "30s1m", "0d1ms1ms"] { #expect(DurationParser.parse(bad) == nil, "\(bad)") }
    }
}
