import NIOCore
@testable import RateLimitRedis
import Testing

@Suite struct RESPTests {
    private func decodeAll(_ text: String) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var out: [RESPValue] = []
        while let v = try RESPDecoder().next(&buffer) { out.append(v) }
        #expect(buffer.readableBytes == 0)
        return out
    }

    @Test func decodesEveryType() throws {
        let values = try decodeAll("+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n*1\r\n+x\r\n*-1\r\n_\r\n")
        #expect(values == [
            .simpleString("OK"), .error("ERR no"), .integer(42), .bulkString(ByteBuffer(string: "abc")),
            .bulkString(nil), .array([.integer(1), .array([.simpleString("x")])]), .array(nil), .null,
        ])
    }

    @Test func incompleteInputConsumesNothing() throws {
        let whole = Array("*2\r\n$5\r\nhello\r\n:7\r\n".utf8)
        for cut in 0..<whole.count {
            var buffer = ByteBuffer(bytes: whole[..<cut])
            #expect(try RESPDecoder().next(&buffer) == nil)
            #expect(buffer.readableBytes == cut)
        }
        var buffer = ByteBuffer(bytes: whole)
        #expect(try RESPDecoder().next(&buffer) == .array([.bulkString(ByteBuffer(string: "hello")), .integer(7)]))
    }

    @Test func rejectsGarbage() {
        for text in ["?x\r\n", ":abc\r\n", "$-5\r\n", "$3\r\nabcXY", "*99999999\r\n", "+a\rb\r\n"] {
            var buffer = ByteBuffer(string: text)
            #expect(throws: RESPDecoder.Failure.self, "\(text)") { try RESPDecoder().next(&buffer) }
        }
        var deep = ByteBuffer(string: String(repeating: "*1\r\n", count: 100) + ":1\r\n")
        #expect(throws: RESPDecoder.Failure.self) { try RESPDecoder().next(&deep) }
    }

    @Test func integersParseLikeInt64FromText() {
        for text in ["0", "42", "-7", "+5", "007", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "", "-", "1a", " 1"] {
            let bytes = ByteBuffer(string: text)
            #expect(RESPDecoder.integer(bytes.readableBytesView[...]) == Int64(text), "\(text)")
        }
    }

    @Test func encodesCommands() {
        var buffer = ByteBuffer()
        RESPEncoder.write(["EVALSHA", "abc", "1", "k{é}"], into: &buffer)
        #expect(String(buffer: buffer) == "*4\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n1\r\n$5\r\nk{é}\r\n")
        var long = ByteBuffer(string: "before|")
        let arguments = (0..<12).map { String(repeating: "x", count: $0 * 3) }
        RESPEncoder.write(arguments, into: &long)
        let expected = "*12\r\n" + arguments.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
        #expect(String(buffer: long) == "before|" + expected, "appends after what the buffer holds, lengths of two digits")
    }
}
