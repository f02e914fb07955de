public import NIOCore
public import RateLimitCore

/// A request the API refuses: the status and a message naming the problem.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPStatus
    public var message: String

    public init(_ status: HTTPStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }

    /// Maps a core error to its status: unknown rule or lease → 404, a lease no longer held
    /// (released or expired) → 409, anything else → 400.
    init(_ error: CheckError) {
        switch error {
        case .unknownRule, .unknownLease: self.init(.notFound, error.description)
        case .leaseNotHeld: self.init(.conflict, error.description)
        default: self.init(.badRequest, error.description)
        }
    }

    /// Maps the pipeline's refusals: the caller's error as above; shed and an unavailable
    /// backend → 503 (with `Retry-After`).
    init(_ error: PipelineError) {
        switch error {
        case .invalid(let error): self.init(error)
        case .shed, .unavailable: self.init(.serviceUnavailable, error.description)
        }
    }
}

/// The body of `POST /v1/check`: one check, or several under `checks`.
public typealias CheckBody = Checks

extension Checks {
    /// Decodes and type-checks a check body. Unknown and duplicate fields are errors.
    public static func decode(_ body: ByteBuffer) throws(APIError) -> Checks {
        try decodeRequest(body).checks
    }

    /// A check body and its `"explain": true` (for the single check or the whole batch).
    static func decodeRequest(_ body: ByteBuffer) throws(APIError) -> (checks: Checks, explain: Bool) {
        let fields = try WireFields(try parseObject(body), context: "")
        let explain = try fields.bool("explain") ?? false
        if let checks = fields.value("checks") {
            try fields.rejectUnknown(["checks", "explain"])
            guard case .array(let items) = checks else { throw .badRequest("checks must be an array, got \(checks.typeName)") }
            // The core's guards, before decoding what they would refuse.
            guard !items.isEmpty else { throw APIError(CheckError.emptyBatch) }
            guard items.count <= RateLimiter.maxBatch else { throw APIError(CheckError.batchTooLarge(items.count)) }
            var requests: [CheckRequest] = []
            for (i, item) in items.enumerated() {
                requests.append(try checkRequest(try WireFields(item, context: "checks[\(i)].")))
            }
            return (.batch(requests), explain)
        }
        return (.one(try checkRequest(fields, known: ["rule", "key", "cost", "explain"])), explain)
    }

    static func checkRequest(_ fields: WireFields, known: [String] = ["rule", "key", "cost"]) throws(APIError) -> CheckRequest {
        try fields.rejectUnknown(known)
        return CheckRequest(
            rule: try fields.requiredString("rule"), key: try fields.requiredString("key"),
            cost: try fields.integer("cost") ?? 1)
    }
}

/// `{"rule": "...", "key": "..."}` for `POST /v1/reset`.
struct ResetBody {
    var rule: String
    var key: String

    static func decode(_ body: ByteBuffer) throws(APIError) -> ResetBody {
        let fields = try WireFields(try parseObject(body), context: "")
        try fields.rejectUnknown(["rule", "key"])
        return ResetBody(rule: try fields.requiredString("rule"), key: try fields.requiredString("key"))
    }
}

/// The body of `POST /v1/report`: `{"rule","key","cost"[,"id"]}`, or several under `reports`.
struct ReportBody {
    var reports: [ReportRequest]
    /// One report (answered as one object), not a `reports` array.
    var single: Bool

    static func decode(_ body: ByteBuffer) throws(APIError) -> ReportBody {
        let fields = try WireFields(try parseObject(body), context: "")
        guard let list = fields.value("reports") else { return ReportBody(reports: [try report(fields)], single: true) }
        try fields.rejectUnknown(["reports"])
        guard case .array(let items) = list else { throw .badRequest("reports must be an array, got \(list.typeName)") }
        guard !items.isEmpty else { throw APIError(CheckError.emptyReports) }
        guard items.count <= RateLimiter.maxBatch else { throw APIError(CheckError.tooManyReports(items.count)) }
        var reports: [ReportRequest] = []
        for (i, item) in items.enumerated() { reports.append(try report(try WireFields(item, context: "reports[\(i)]."))) }
        return ReportBody(reports: reports, single: false)
    }

    static func report(_ fields: WireFields) throws(APIError) -> ReportRequest {
        try fields.rejectUnknown(["rule", "key", "cost", "id"])
        let rule = try fields.requiredString("rule")
        let key = try fields.requiredString("key")
        guard let cost = try fields.signedInteger("cost") else { throw .badRequest("missing field \(fields.context)cost") }
        var id: String?
        if fields.value("id") != nil {
            let text = try fields.requiredString("id")
            guard !text.isEmpty, text.utf8.count <= ReportRequest.maxIDBytes, !text.utf8.contains(where: { $0 < 32 || $0 == 127 }) else {
                throw .badRequest("\(fields.context)id must be 1-\(ReportRequest.maxIDBytes) bytes without control characters")
            }
            id = text
        }
        return ReportRequest(rule: rule, key: key, cost: cost, id: id)
    }
}

func parseObject(_ body: ByteBuffer) throws(APIError) -> JSONValue {
    guard body.readableBytes > 0 else { throw .badRequest("the request body must be a JSON object") }
    do {
        return try JSONParser.parse(body)
    } catch {
        throw .badRequest(error.description)
    }
}

/// The fields of one JSON object, with typed accessors whose errors name the field.
struct WireFields {
    let fields: [(String, JSONValue)]
    let context: String

    init(_ value: JSONValue, context: String) throws(APIError) {
        guard case .object(let fields) = value else {
            throw .badRequest("\(context.isEmpty ? "the body" : String(context.dropLast())) must be a JSON object, got \(value.typeName)")
        }
        for (i, (name, _)) in fields.enumerated() where fields[..<i].contains(where: { $0.0 == name }) {
            throw .badRequest("duplicate field \(context)\(name)")
        }
        self.fields = fields
        self.context = context
    }

    func value(_ name: String) -> JSONValue? { fields.first { $0.0 == name }?.1 }

    func rejectUnknown(_ known: [String]) throws(APIError) {
        for (name, _) in fields where !known.contains(name) {
            throw .badRequest("unknown field \(context)\(name)")
        }
    }

    func requiredString(_ name: String) throws(APIError) -> String {
        guard let value = value(name) else { throw .badRequest("missing field \(context)\(name)") }
        guard case .string(let s) = value else { throw .badRequest("\(context)\(name) must be a string, got \(value.typeName)") }
        return s
    }

    func bool(_ name: String) throws(APIError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard case .bool(let b) = value else { throw .badRequest("\(context)\(name) must be true or false, got \(value.typeName)") }
        return b
    }

    /// An integer within ±`Limits.maxLimit`, written with an optional `-` and no fraction or exponent.
    func signedInteger(_ name: String) throws(APIError) -> Int64? {
        guard let value = value(name) else { return nil }
        let digits = { (text: String) in text.utf8.drop { $0 == UInt8(ascii: "-") }.allSatisfy { $0 >= 48 && $0 <= 57 } }
        guard case .number(let text) = value, !text.hasPrefix("--"), digits(text), let n = Int64(text), abs(n) <= Limits.maxLimit else {
            throw .badRequest("\(context)\(name) must be an integer from -\(Limits.maxLimit) to \(Limits.maxLimit)")
        }
        return n
    }

    /// A non-negative integer written without sign, fraction or exponent.
    func integer(_ name: String) throws(APIError) -> Int64? {
        guard let value = value(name) else { return nil }
        guard case .number(let text) = value, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let n = Int64(text), n <= Limits.maxLimit
        else {
            throw .badRequest("\(context)\(name) must be an integer from 0 to \(Limits.maxLimit)")
        }
        return n
    }
}

// MARK: writing

extension ByteBuffer {
    /// `{"allowed":…,"limit":…,"remaining":…,"reset_after_ms":…,"retry_after_ms":…,"delay_ms":…}`
    mutating func writeDecision(_ d: Decision, rule: String? = nil, key: String? = nil, explain: Explanation? = nil) {
        writeObjectStart(rule: rule, key: key)
        writeStaticString(d.allowed ? "\"allowed\":true,\"limit\":" : "\"allowed\":false,\"limit\":")
        writeDecimal(d.limit)
        writeStaticString(",\"remaining\":")
        writeDecimal(d.remaining)
        writeStaticString(",\"reset_after_ms\":")
        writeDecimal(Self.millisecondsRoundedUp(d.resetAfter))
        writeStaticString(",\"retry_after_ms\":")
        writeDecimal(Self.millisecondsRoundedUp(d.retryAfter))
        writeStaticString(",\"delay_ms\":")
        writeDecimal(Self.millisecondsRoundedUp(d.delay))
        if d.shadowDenied { writeStaticString(",\"shadow_denied\":true") }
        writeLease(d.lease)
        if let explain { writeExplanation(explain) }
        writeStaticString("}")
    }

    /// `,"explain":{…}` (docs/api.md): the rule and override, the limits, the store, the key's
    /// state in plain units and when the request would be allowed.
    mutating func writeExplanation(_ e: Explanation) {
        writeStaticString(",\"explain\":{\"rule\":")
        writeJSONString(e.rule)
        writeStaticString(",\"override\":")
        if let key = e.override { writeJSONString(key) } else { writeStaticString("null") }
        if let limits = e.limits {
            writeStaticString(",\"algorithm\":")
            writeJSONString(limits.algorithm.rawValue)
            writeStaticString(",\"limit\":")
            writeDecimal(limits.limit)
            writeStaticString(",\"period_ms\":")
            writeDecimal(limits.period / 1_000_000)
            writeStaticString(",\"burst\":")
            writeDecimal(limits.burst)
        } else {
            writeStaticString(",\"unlimited\":true")
        }
        writeStaticString(",\"store\":")
        writeJSONString(e.store.rawValue)
        writeStaticString(",\"state\":")
        if e.fields.isEmpty {
            writeStaticString("null")
        } else {
            for (i, field) in e.fields.enumerated() {
                writeStaticString(i == 0 ? "{" : ",")
                writeJSONString(field.name)
                writeStaticString(":")
                writeDecimal(field.value)
            }
            writeStaticString("}")
        }
        writeStaticString(",\"allowed_at_ns\":")
        writeDecimal(e.allowedAt)
        writeStaticString("}")
    }

    /// `{"reported":…,"duplicate":…,"limit":…,"remaining":…,"debt":…,"reset_after_ms":…,"retry_after_ms":…}`
    mutating func writeReport(_ r: Report, rule: String? = nil, key: String? = nil) {
        writeObjectStart(rule: rule, key: key)
        writeStaticString(r.duplicate ? "\"reported\":false,\"duplicate\":true,\"limit\":" : "\"reported\":true,\"duplicate\":false,\"limit\":")
        writeDecimal(r.limit)
        writeStaticString(",\"remaining\":")
        writeDecimal(r.remaining)
        writeStaticString(",\"debt\":")
        writeDecimal(r.debt)
        writeStaticString(",\"reset_after_ms\":")
        writeDecimal(Self.millisecondsRoundedUp(r.resetAfter))
        writeStaticString(",\"retry_after_ms\":")
        writeDecimal(Self.millisecondsRoundedUp(r.retryAfter))
        writeStaticString("}")
    }

    /// `{` and, in a batch's item, `"rule":…,"key":…,`.
    private mutating func writeObjectStart(rule: String?, key: String?) {
        writeStaticString("{")
        if let rule, let key {
            writeStaticString("\"rule\":")
            writeJSONString(rule)
            writeStaticString(",\"key\":")
            writeJSONString(key)
            writeStaticString(",")
        }
    }

    static func millisecondsRoundedUp(_ ns: Nanoseconds) -> Int64 {
        ns <= 0 ? 0 : (ns - 1) / 1_000_000 + 1
    }

    /// `{"error":"…"}`
    mutating func writeError(_ message: String) {
        writeStaticString("{\"error\":")
        writeJSONString(message)
        writeStaticString("}")
    }

    /// A rule as the admin API shows it (the same fields as the configuration file).
    mutating func writeRule(_ rule: Rule) {
        writeStaticString("{\"name\":")
        writeJSONString(rule.name)
        writeStaticString(",")
        writeLimits(rule.limits)
        writeStaticString(rule.shadow ? ",\"shadow\":true" : ",\"shadow\":false")
        writeStaticString(",\"overrides\":[")
        for (i, (exact, policy)) in rule.overrides.sorted(by: { $0.key < $1.key }).enumerated() {
            let key = exact.string
            if i > 0 { writeStaticString(",") }
            writeStaticString("{\"key\":")
            writeJSONString(key)
            switch policy {
            case .unlimited: writeStaticString(",\"unlimited\":true")
            case .limited(let limits):
                writeStaticString(",")
                writeLimits(limits, algorithm: false)
            }
            writeStaticString("}")
        }
        writeStaticString("]")
        if !rule.descriptors.isEmpty { writeDescriptors(rule.descriptors) }
        writeStaticString("}")
    }

    private mutating func writeDescriptors(_ descriptors: [DescriptorMatch]) {
        writeStaticString(",\"descriptors\":[")
        for (i, match) in descriptors.enumerated() {
            if i > 0 { writeStaticString(",") }
            writeStaticString("{\"domain\":")
            writeJSONString(match.domain)
            writeStaticString(",\"entries\":[")
            for (j, entry) in match.entries.enumerated() {
                if j > 0 { writeStaticString(",") }
                writeStaticString("{\"key\":")
                writeJSONString(entry.key)
                if let value = entry.value {
                    writeStaticString(",\"value\":")
                    writeJSONString(value)
                }
                writeStaticString("}")
            }
            writeStaticString("]}")
        }
        writeStaticString("]")
    }

    private mutating func writeLimits(_ limits: Limits, algorithm: Bool = true) {
        if algorithm {
            writeStaticString("\"algorithm\":")
            writeJSONString(limits.algorithm.rawValue)
            writeStaticString(",")
        }
        writeStaticString("\"limit\":")
        writeDecimal(limits.limit)
        writeStaticString(limits.algorithm == .concurrency ? ",\"lease_ttl\":" : ",\"period\":")
        writeJSONString(DurationParser.format(limits.period))
        if limits.algorithm == .tokenBucket || limits.algorithm == .leakyBucket {
            writeStaticString(",\"burst\":")
            writeDecimal(limits.burst)
        }
    }
}

extension JSONValue {
    /// Writes this value back as JSON text.
    func write(to out: inout ByteBuffer) {
        switch self {
        case .null: out.writeStaticString("null")
        case .bool(let b): out.writeStaticString(b ? "true" : "false")
        case .number(let text): out.writeString(text)
        case .string(let s): out.writeJSONString(s)
        case .array(let items):
            out.writeStaticString("[")
            for (i, item) in items.enumerated() {
                if i > 0 { out.writeStaticString(",") }
                item.write(to: &out)
            }
            out.writeStaticString("]")
        case .object(let fields):
            out.writeStaticString("{")
            for (i, (name, value)) in fields.enumerated() {
                if i > 0 { out.writeStaticString(",") }
                out.writeJSONString(name)
                out.writeStaticString(":")
                value.write(to: &out)
            }
            out.writeStaticString("}")
        }
    }
}
