import NIOCore
import RateLimitRedis
import Testing

/// Inputs found by the fuzz target Fuzz/FuzzRESP (scripts/fuzz), kept byte for byte.
@Suite struct RESPFuzzRegressionTests {
    /// crash-ba8ab5a0: "\r\n" (a line with no type byte) trapped in RESPDecoder.readLine (a range
    /// with lowerBound > upperBound), so anything answering on the Redis port could crash sluice.
    /// Now an unknown type byte (CR included) is refused before its line is read.
    @Test func lineWithoutTypeByteFailsCleanly() throws {
        for bytes: [UInt8] in [[0x0D, 0x0A], [0x0D], Array("*1\r\n\r\n".utf8), Array("*2\r\n:1\r\n\r\n".utf8)] {
            var buffer = ByteBuffer(bytes: bytes)
            #expect(throws: RESPDecoder.Failure.self, "\(bytes)") { try RESPDecoder().next(&buffer) }
            #expect(buffer.readableBytes == bytes.count)
        }
        var buffer = ByteBuffer(string: "+OK\r\n\r\n")
        #expect(try RESPDecoder().next(&buffer) == .simpleString("OK"))
        #expect(throws: RESPDecoder.Failure.self) { try RESPDecoder().next(&buffer) }
    }

    /// An unknown type byte fails at once, without waiting for a line end that may never come.
    @Test func unknownTypeByteFailsBeforeItsLine() {
        var buffer = ByteBuffer(string: "HTTP/1.1 400 Bad Request")
        #expect(throws: RESPDecoder.Failure.self) { try RESPDecoder().next(&buffer) }
    }
}
