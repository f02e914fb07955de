/// A gRPC status code (the `grpc-status` trailer), as the gRPC spec numbers them.
public enum GRPCStatusCode: Int, Sendable, Hashable {
    case ok = 0
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case resourceExhausted = 8
    case unimplemented = 12
    case internalError = 13
    case unavailable = 14
}

/// A call's non-OK outcome: the `grpc-status` and `grpc-message` trailers.
public struct GRPCStatus: Error, Sendable, Hashable {
    public var code: GRPCStatusCode
    public var message: String

    public init(_ code: GRPCStatusCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `grpc-message` as sent: UTF-8, with every byte outside printable ASCII, and `%` itself,
    /// percent-encoded (gRPC over HTTP/2, "Responses").
    public var encodedMessage: String {
        let utf8 = message.utf8
        guard utf8.contains(where: Self.mustEncode) else { return message }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count + 16)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in utf8 {
            if Self.mustEncode(byte) {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func mustEncode(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "%")
    }
}
