import NIOCore
import RateLimitHTTP
import Testing

private func parseAll(_ text: String, limits: HTTPRequestParser.Limits = .default) throws -> [HTTPRequest] {
    var parser = HTTPRequestParser(limits: limits)
    var buffer = ByteBuffer(string: text)
    var out: [HTTPRequest] = []
    while let request = try parser.next(&buffer) { out.append(request) }
    return out
}

private func parseError(_ text: String) -> HTTPParseError? {
    do {
        _ = try parseAll(text)
        return nil
    } catch {
        return error as? HTTPParseError
    }
}

@Suite struct HTTPRequestParserTests {
    @Test func simplePostWithBody() throws {
        let requests = try parseAll("POST /v1/check?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}")
        #expect(requests.count == 1)
        #expect(requests[0].method == .post && requests[0].path == "/v1/check" && requests[0].query == "x=1")
        #expect(String(buffer: requests[0].body) == "{}")
        #expect(requests[0].keepAlive)
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let one = "POST /v1/check HTTP/1.1\r\nContent-Length: 1\r\n\r\n"
        let text = (0..<100).map { one + "\($0 % 10)" }.joined()
        let requests = try parseAll(text)
        #expect(requests.map { String(buffer: $0.body) } == (0..<100).map { "\($0 % 10)" })
    }

    @Test func bytesArrivingOneAtATime() throws {
        let text = Array("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nPOST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n".utf8)
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer()
        var out: [HTTPRequest] = []
        for byte in text {
            buffer.writeInteger(byte)
            while let request = try parser.next(&buffer) { out.append(request) }
        }
        #expect(out.map(\.path) == ["/healthz", "/x"])
        #expect(String(buffer: out[1].body) == "abcde")
        #expect(buffer.readableBytes == 0)
    }

    @Test func connectionSemantics() throws {
        #expect(try parseAll("GET / HTTP/1.1\r\nConnection: close\r\n\r\n")[0].keepAlive == false)
        #expect(try parseAll("GET / HTTP/1.0\r\n\r\n")[0].keepAlive == false)
        #expect(try parseAll("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")[0].keepAlive == true)
    }

    @Test func hostileInputGetsTheRightStatus() {
        #expect(parseError("GARBAGE\r\n\r\n")?.status == .badRequest)
        #expect(parseError("\u{01}\u{02}\u{03} / HTTP/1.1\r\n\r\n") != nil)
        #expect(parseError("GET / HTTP/2.0\r\n\r\n") == .versionNotSupported)
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")?.status == .badRequest)
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")?.status == .badRequest)
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n")?.status == .badRequest)
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")?.status == .badRequest)
        #expect(parseError("POST / HTTP/1.1\r\nContent-Length: 70000\r\n\r\n") == .bodyTooLarge)
        #expect(parseError("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")?.status == .notImplemented)
        #expect(parseError("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200_000) + "\r\n\r\n") == .headersTooLarge)
        #expect(parseError("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 200_000)) == .headersTooLarge)
        #expect(parseError("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")?.status == .badRequest)
        #expect(parseError("GET / HTTP/1.1\r\n folded: x\r\n\r\n")?.status == .badRequest)
        #expect(parseError("GET noslash HTTP/1.1\r\n\r\n")?.status == .badRequest)
        let bigChunks = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "8000\r\n" + String(repeating: "x", count: 0x8000) + "\r\n", count: 3) + "0\r\n\r\n"
        #expect(parseError(bigChunks) == .bodyTooLarge)
        #expect(parseError("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")?.status == .badRequest)
    }

    @Test func expectContinueIsOwedUntilTheBodyArrives() throws {
        var parser = HTTPRequestParser()
        var buffer = ByteBuffer(string: "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(try parser.next(&buffer) == nil)
        #expect(parser.continueOwed)
        parser.continueSent()
        buffer.writeString("{}")
        #expect(try parser.next(&buffer)?.body.readableBytes == 2)
    }
}

@Suite struct JSONParserTests {
    @Test func parsesValues() throws {
        let v = try JSONParser.parse(Array(#"{"a":[1,-2.5e3,true,false,null],"b":"x\"\u00e9\ud83d\ude00"}"#.utf8))
        #expect(v == .object([
            ("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null])),
            ("b", .string("x\"é😀")),
        ]))
    }

    @Test(arguments: [
        "", "{", "{\"a\":}", "[1,]", "01", "1.", "\"\\x\"", "\"\u{01}\"", "{\"a\":1}x", "\"\\ud800\"", "nul", "[" ,
    ])
    func rejectsMalformed(text: String) {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse([34, 0xFF, 0xFE, 34]) }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParser.Error.self) { try JSONParser.parse(Array(deep.utf8)) }
    }
}

@Suite struct CheckBodyTests {
    private func decode(_ text: String) throws(APIError) -> CheckBody { try CheckBody.decode(ByteBuffer(string: text)) }

    private func message(_ text: String) -> String {
        do {
            _ = try decode(text)
            return ""
        } catch {
            return error.message
        }
    }

    @Test func decodesSingleAndBatch() throws {
        #expect(try decode(#"{"rule":"a","key":"k"}"#) == .one(.init(rule: "a", key: "k", cost: 1)))
        #expect(try decode(#"{"rule":"a","key":"k","cost":0}"#) == .one(.init(rule: "a", key: "k", cost: 0)))
        #expect(try decode(#"{"checks":[{"rule":"a","key":"k","cost":2},{"rule":"b","key":"k"}]}"#)
            == .batch([.init(rule: "a", key: "k", cost: 2), .init(rule: "b", key: "k", cost: 1)]))
    }

    @Test func errorsNameTheField() {
        #expect(message(#"{"key":"k"}"#) == "missing field rule")
        #expect(message(#"{"rule":"a"}"#) == "missing field key")
        #expect(message(#"{"rule":1,"key":"k"}"#) == "rule must be a string, got a number")
        #expect(message(#"{"rule":"a","key":"k","cost":1.5}"#).hasPrefix("cost must be an integer"))
        #expect(message(#"{"rule":"a","key":"k","cost":-0}"#).hasPrefix("cost must be an integer"))
        #expect(message(#"{"rule":"a","key":"k","cost":1e30}"#).hasPrefix("cost must be an integer"))
        #expect(message(#"{"rule":"a","key":"k","cost":"1"}"#).hasPrefix("cost must be an integer"))
        #expect(message(#"{"rule":"a","key":"k","ruel":"x"}"#) == "unknown field ruel")
        #expect(message(#"{"rule":"a","rule":"b","key":"k"}"#) == "duplicate field rule")
        #expect(message(#"{"checks":[{"rule":"a"}]}"#) == "missing field checks[0].key")
        #expect(message(#"{"checks":[]}"#) == "checks must not be empty")
        #expect(message("[1]") == "the body must be a JSON object, got an array")
        #expect(message("{").hasPrefix("malformed JSON"))
    }
}
