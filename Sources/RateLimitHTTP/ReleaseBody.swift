import NIOCore
import RateLimitCore

/// `{"rule": "...", "key": "...", "lease": "17"}` for `POST /v1/release`. The lease id is the
/// string a check answered (ids can exceed 2^53, which JSON numbers do not carry exactly); a
/// JSON integer is accepted too.
struct ReleaseBody {
    static func decode(_ body: ByteBuffer) throws(APIError) -> ReleaseRequest {
        let fields = try WireFields(try parseObject(body), context: "")
        try fields.rejectUnknown(["rule", "key", "lease"])
        let rule = try fields.requiredString("rule")
        let key = try fields.requiredString("key")
        guard let value = fields.value("lease") else { throw .badRequest("missing field lease") }
        let text: String? = switch value {
        case .string(let s): s
        case .number(let s): s
        default: nil
        }
        guard let text, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let id = UInt64(text) else {
            throw .badRequest("lease must be the lease id a check answered: a string of decimal digits such as \"17\"")
        }
        return ReleaseRequest(rule: rule, key: key, lease: id)
    }
}

extension ByteBuffer {
    /// `"lease":"17","lease_expires_ms":30000` after a decision's fields, when it holds a lease.
    mutating func writeLease(_ lease: GrantedLease?) {
        guard let lease else { return }
        writeStaticString(",\"lease\":\"")
        writeString(String(lease.id))
        writeStaticString("\",\"lease_expires_ms\":")
        writeDecimal(Self.millisecondsRoundedUp(lease.expiresAfter))
    }

    /// A release's answer: the lease freed and the key's leases after it.
    mutating func writeRelease(_ d: Decision, lease: UInt64) {
        writeStaticString("{\"released\":true,\"lease\":\"")
        writeString(String(lease))
        writeStaticString("\",\"limit\":")
        writeDecimal(d.limit)
        writeStaticString(",\"remaining\":")
        writeDecimal(d.remaining)
        writeStaticString(",\"reset_after_ms\":")
        writeDecimal(Self.millisecondsRoundedUp(d.resetAfter))
        writeStaticString("}")
    }
}
