import NIOCore
import RateLimitHTTP
import Testing

/// Inputs found by the fuzz target Fuzz/FuzzHTTP (scripts/fuzz), kept byte for byte, and the bug
/// each one showed. The parser's verdict must not depend on how the bytes were split into reads.
@Suite struct HTTPFuzzRegressionTests {
    /// The limits the fuzz target parses with, so that short inputs reach the size checks.
    static let small = HTTPRequestParser.Limits(maxHeaderBytes: 200, maxBodyBytes: 300)

    struct Outcome: Equatable {
        var requests: [HTTPRequest]
        var status: HTTPStatus?
        /// Bytes of a partial request left in the buffer (0 after an error).
        var leftover: Int
    }

    /// Feeds `bytes` in one read, or one byte per read, draining the parser after each read.
    static func parse(_ bytes: [UInt8], limits: HTTPRequestParser.Limits, byteByByte: Bool) -> Outcome {
        var parser = HTTPRequestParser(limits: limits)
        var buffer = ByteBuffer()
        var requests: [HTTPRequest] = []
        for piece in byteByByte ? bytes.map({ [$0] }) : [bytes] {
            buffer.writeBytes(piece)
            do {
                while let request = try parser.next(&buffer) { requests.append(request) }
            } catch {
                return Outcome(requests: requests, status: error.status, leftover: 0)
            }
        }
        return Outcome(requests: requests, status: nil, leftover: buffer.readableBytes)
    }

    /// The outcome, after checking it is the same at once and byte by byte.
    static func outcome(_ bytes: [UInt8], limits: HTTPRequestParser.Limits = small) -> Outcome {
        let atOnce = parse(bytes, limits: limits, byteByByte: false)
        let inPieces = parse(bytes, limits: limits, byteByByte: true)
        #expect(atOnce == inPieces)
        return atOnce
    }

    static func outcome(_ text: String, limits: HTTPRequestParser.Limits = small) -> Outcome {
        outcome(Array(text.utf8), limits: limits)
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8).map { $0 <= 57 ? $0 - 48 : $0 - 87 }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// crash-e768f43f (minimized): a head of 198 bytes (limit 200) was refused with 431 when its
    /// blank line arrived split, and answered 400 (malformed request line) when it arrived whole:
    /// the "no blank line yet" size check did not allow for the CRLFCRLF's first 3 bytes.
    @Test func headNearTheLimitWithItsBlankLineSplit() {
        let input = Self.bytes(hex: """
            474554202f76312f727565732f6e652e72756c6520485454502f312e310d4e756d65726963736c756963650d0a436f6e74656e74\
            2d4c656e6774683a22766970222c226c696d697422feffffffffffffff79223a2266726565222c22756e6c696d69746564223a74\
            7275657d5d7d474554202f76312f72756c65732f6e65772e72756c6520485454502f312e310d0a486f733a2089938a969c222c22\
            756e6c696d69746564223a7472756572756c6520485454502f310d0a436f6e74656e742d4c656e6763650d0a0d0a
            """)
        #expect(input.count == 202)
        #expect(Self.outcome(input).status == .badRequest)

        // A head of exactly the limit is accepted however it arrives; one byte more is 431.
        let prefix = "GET / HTTP/1.1\r\nX: "
        let atLimit = prefix + String(repeating: "a", count: 200 - prefix.utf8.count) + "\r\n\r\n"
        #expect(Self.outcome(atLimit).requests.count == 1)
        let over = prefix + String(repeating: "a", count: 201 - prefix.utf8.count) + "\r\n\r\n"
        #expect(Self.outcome(over).status == .headersTooLarge)
    }

    /// crash-238d8a37 (minimized): a chunked body's trailer line longer than maxHeaderBytes was
    /// refused (431) when it arrived in pieces but accepted when it arrived whole, and trailers in
    /// one read had no size limit at all. Now the trailer section is limited to maxHeaderBytes
    /// however it arrives.
    @Test func longTrailerLine() {
        let input = Self.bytes(hex: """
            54202f20485454502f312e310d0a5472616e736665722d456e636f64696e673a206368756e6b65640d0a0d0a303b0d0a226b0000\
            00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
            00000000000000000000001800000000000000000000000000000000000000000000000000000000000000000000000000726174\
            655f6c696d697465725f696e666c696768745f7265717b22636865636b73223a5b2d304861736861626c65793d61253230622663\
            6f23743d3320485454507b2272756c65223a2264656661756c74454153657175656e6365617463650d0a0d
            """)
        #expect(input.count == 251)
        // Its trailer line has NUL bytes and no colon: refused as soon as the line is complete,
        // whichever way the bytes arrive (trailers are validated since red team 2, F22).
        #expect(Self.outcome(input).status == .badRequest)

        let head = "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
        // Trailer line + CRLF + the empty line's CRLF = 200 bytes: accepted.
        let fits = Self.outcome(head + "T: " + String(repeating: "a", count: 195) + "\r\n\r\n")
        #expect(fits.status == nil && fits.requests.count == 1 && fits.leftover == 0)
        #expect(Self.outcome(head + "T: " + String(repeating: "a", count: 196) + "\r\n\r\n").status == .headersTooLarge)
        #expect(Self.outcome(head + "T: " + String(repeating: "a", count: 250) + "\r\n\r\n").status == .headersTooLarge)
        // Many short trailer lines count together.
        let many = String(repeating: "T: a\r\n", count: 40)
        #expect(Self.outcome(head + many + "\r\n").status == .headersTooLarge)
    }

    /// The same pattern in the chunk-size line (found by reading the code while fixing the
    /// trailers): a size line with extensions longer than 1024 bytes was accepted whole but
    /// refused (400) in pieces.
    @Test func longChunkSizeLine() {
        func request(extensionBytes: Int) -> String {
            "POST /v1/check HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;"
                + String(repeating: "e", count: extensionBytes) + "\r\nx\r\n0\r\n\r\n"
        }
        let fits = Self.outcome(request(extensionBytes: 1022), limits: .default)
        #expect(fits.status == nil && fits.requests.count == 1)
        #expect(Self.outcome(request(extensionBytes: 1023), limits: .default).status == .badRequest)
        #expect(Self.outcome(request(extensionBytes: 1100), limits: .default).status == .badRequest)
    }

    /// Found reading the code after fuzzing: `Int("+5", radix: 16)` accepts a sign, which a
    /// chunk size (hex digits only, RFC 9112 §7.1) must not have.
    @Test func signedChunkSizeIsRefused() {
        for size in ["+5", "-5"] {
            let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\(size)\r\nhello\r\n0\r\n\r\n"
            #expect(Self.outcome(text, limits: .default).status == .badRequest, "\(size)")
        }
    }
}
