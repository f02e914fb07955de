public import NIOCore
public import NIOHPACK

/// A call's request headers, checked as the gRPC spec asks of a server.
public struct GRPCRequestHead: Sendable, Hashable {
    public var method: GRPCMethod
    /// From `grpc-timeout`, counted from when the headers arrived.
    public var deadline: NIODeadline?

    public init(method: GRPCMethod, deadline: NIODeadline? = nil) {
        self.method = method
        self.deadline = deadline
    }

    /// Why a call is refused from its headers alone.
    public enum Rejection: Error, Sendable, Hashable {
        /// Not a gRPC content-type: HTTP 415, so a plain HTTP client cannot take the answer for a
        /// success (the spec's "SHOULD").
        case unsupportedMediaType(String)
        /// A gRPC status in a trailers-only answer.
        case status(GRPCStatus)
    }

    /// Checks `headers` (NIOHTTP2 has already decoded the HTTP/2 header block), in one pass.
    public static func parse(_ headers: HPACKHeaders, now: NIODeadline) -> Result<GRPCRequestHead, Rejection> {
        var contentType = "", method = "", path = "", encoding: String?, timeout: String?
        for header in headers {
            // By length first: most names are none of these, and a length is cheaper than five
            // string comparisons.
            let name = header.name
            switch name.utf8.count {
            case 5 where name == ":path": path = header.value
            case 7 where name == ":method": method = header.value
            case 12 where name == "content-type": contentType = header.value
            case 12 where name == "grpc-timeout": timeout = header.value
            case 13 where name == "grpc-encoding": encoding = header.value
            default: continue
            }
        }
        guard isGRPC(contentType: contentType) else {
            return .failure(.unsupportedMediaType("invalid gRPC request content-type \"\(contentType)\""))
        }
        guard method == "POST" else {
            return .failure(.status(GRPCStatus(.invalidArgument, ":method must be POST")))
        }
        if let encoding, encoding != "identity" {
            return .failure(.status(GRPCStatus(
                .unimplemented, "\(encoding) compression is not supported; supported algorithms are listed in grpc-accept-encoding")))
        }
        guard let grpcMethod = GRPCMethod(path: path) else {
            return .failure(.status(GRPCStatus(.unimplemented, "unknown method \(path)")))
        }
        var deadline: NIODeadline?
        if let timeout {
            guard let amount = parseTimeout(timeout) else {
                return .failure(.status(GRPCStatus(.internalError, "malformed grpc-timeout \"\(timeout)\"")))
            }
            deadline = now + amount
        }
        return .success(GRPCRequestHead(method: grpcMethod, deadline: deadline))
    }

    /// `application/grpc`, alone or with a subtype (`+proto`) or parameters (`;charset=...`).
    static func isGRPC(contentType: String) -> Bool {
        if contentType == "application/grpc" { return true }  // what nearly every client sends
        let utf8 = contentType.utf8
        let base = "application/grpc".utf8
        guard utf8.starts(with: base) else { return false }
        let rest = utf8.dropFirst(base.count)
        return rest.first.map { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ";") } ?? true
    }

    /// `grpc-timeout`: 1 to 8 ASCII digits and a unit (H, M, S, m, u, n). Capped at `maxTimeout`,
    /// so a deadline far off (99999999H) cannot overflow the clock.
    static func parseTimeout(_ text: String) -> TimeAmount? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2, utf8.count <= 9, let unit = utf8.last else { return nil }
        var value: Int64 = 0
        for byte in utf8.dropLast() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        let nanosecondsPerUnit: Int64
        switch unit {
        case UInt8(ascii: "H"): nanosecondsPerUnit = 3_600_000_000_000
        case UInt8(ascii: "M"): nanosecondsPerUnit = 60_000_000_000
        case UInt8(ascii: "S"): nanosecondsPerUnit = 1_000_000_000
        case UInt8(ascii: "m"): nanosecondsPerUnit = 1_000_000
        case UInt8(ascii: "u"): nanosecondsPerUnit = 1_000
        case UInt8(ascii: "n"): nanosecondsPerUnit = 1
        default: return nil
        }
        let (nanoseconds, overflow) = value.multipliedReportingOverflow(by: nanosecondsPerUnit)
        return .nanoseconds(overflow ? maxTimeout.nanoseconds : min(nanoseconds, maxTimeout.nanoseconds))
    }

    static let maxTimeout = TimeAmount.hours(24 * 365)
}
