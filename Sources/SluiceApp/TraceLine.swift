import RateLimitCore
import RateLimitHTTP

/// How trace lines name their fields: Sluice's own (`t_ms`, `rule`, `key`, `cost`, nothing else),
/// or an access log's (JSON lines with a timestamp field and a key field, other fields ignored).
public struct TraceFormat: Sendable {
    public enum TimeUnit: String, CaseIterable, Sendable { case s, ms, us, ns }

    public var timeField = "t_ms"
    public var timeUnit = TimeUnit.ms
    public var keyField = "key"
    public var ruleField = "rule"
    public var costField = "cost"
    /// A concurrency check's lease is released this many ms after the line's time (native only).
    public var holdField = "hold_ms"
    /// Every line's rule, for logs that have none.
    public var fixedRule: String?
    /// Access-log mode: dotted paths, ignored fields, RFC 3339 or epoch timestamps taken
    /// relative to the first line, and slightly out-of-order lines held at the latest time.
    public var accessLog = false

    public static let native = TraceFormat()

    /// Sluice's own format, or an access log's once any field, unit or fixed rule is named.
    public init(
        timeField: String? = nil, timeUnit: TimeUnit? = nil, keyField: String? = nil, ruleField: String? = nil,
        costField: String? = nil, fixedRule: String? = nil
    ) {
        accessLog = timeField != nil || timeUnit != nil || keyField != nil || ruleField != nil || costField != nil || fixedRule != nil
        self.timeField = timeField ?? self.timeField
        self.timeUnit = timeUnit ?? self.timeUnit
        self.keyField = keyField ?? self.keyField
        self.ruleField = ruleField ?? self.ruleField
        self.costField = costField ?? self.costField
        self.fixedRule = fixedRule
    }
}

/// One trace line → a replay event; errors name the field.
struct TraceLine {
    struct Problem: Error, CustomStringConvertible { var description: String }

    let format: TraceFormat
    /// Access logs: the first line's absolute time, and the latest time so far.
    private var origin: Int64?
    private var latest: Int64 = 0
    /// Access-log lines whose time was earlier than a previous line's (held at the latest).
    private(set) var reordered = 0

    init(format: TraceFormat) { self.format = format }

    mutating func parse(_ line: String) throws -> ReplayEvent {
        let value: JSONValue
        do { value = try JSONParser.parse(Array(line.utf8)) } catch { throw Problem(description: error.description) }
        guard case .object(let fields) = value else { throw Problem(description: "each line must be a JSON object") }
        if !format.accessLog {
            let known: Set = [format.timeField, format.ruleField, format.keyField, format.costField, format.holdField]
            if let unknown = fields.first(where: { !known.contains($0.0) }) { throw Problem(description: "unknown field \(unknown.0)") }
        }
        guard let timeValue = Self.field(format.timeField, in: value, dotted: format.accessLog) else {
            throw Problem(description: "missing field \(format.timeField)")
        }
        var time = try nanoseconds(timeValue)
        let rule = try format.fixedRule ?? string(format.ruleField, in: value)
        let key = try string(format.keyField, in: value)
        var cost: Int64 = 1
        if let costValue = Self.field(format.costField, in: value, dotted: format.accessLog) {
            guard case .number(let text) = costValue, let n = Int64(text), n >= 0 else {
                throw Problem(description: "\(format.costField) must be a non-negative integer, got \(costValue.typeName)")
            }
            cost = n
        }
        var hold: Nanoseconds?
        if !format.accessLog, let holdValue = Self.field(format.holdField, in: value, dotted: false) {
            guard case .number(let text) = holdValue, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int64(text), n <= 366 * 86_400_000 else {
                throw Problem(description: "\(format.holdField) must be an integer number of ms from 0 to 31622400000")
            }
            hold = n * 1_000_000
        }
        if format.accessLog {
            let start = origin ?? time
            origin = start
            time = max(time - start, 0)
            if time < latest {
                reordered += 1
                time = latest
            }
            latest = time
        }
        return ReplayEvent(time: time, rule: rule, key: key, cost: cost, hold: hold)
    }

    private func string(_ name: String, in value: JSONValue) throws -> String {
        guard let field = Self.field(name, in: value, dotted: format.accessLog) else { throw Problem(description: "missing field \(name)") }
        switch field {
        case .string(let s): return s
        case .number(let text) where format.accessLog: return text  // e.g. a numeric user id
        default: throw Problem(description: "\(name) has the wrong type (\(field.typeName))")
        }
    }

    /// A field by name; in access logs `a.b` reaches into nested objects.
    static func field(_ name: String, in value: JSONValue, dotted: Bool) -> JSONValue? {
        let path = dotted ? name.split(separator: ".").map(String.init) : [name]
        var current = value
        for part in path {
            guard case .object(let fields) = current, let next = fields.first(where: { $0.0 == part })?.1 else { return nil }
            current = next
        }
        return current
    }

    private func nanoseconds(_ value: JSONValue) throws -> Int64 {
        switch value {
        case .number(let text):
            guard let ns = Self.nanoseconds(text, unit: format.timeUnit) else {
                throw Problem(description: "\(format.timeField) must be a non-negative number of \(format.timeUnit.rawValue), got \(text)")
            }
            return ns
        case .string(let text) where format.accessLog:
            guard let ns = RFC3339.nanoseconds(text) else {
                throw Problem(description: "\(format.timeField) must be an RFC 3339 time such as 2026-11-30T08:00:00.123Z, got \(text)")
            }
            return ns
        default:
            throw Problem(description: "\(format.timeField) has the wrong type (\(value.typeName))")
        }
    }

    /// "12.5" in `unit` → nanoseconds, exactly (up to 9 decimals, as far as nanoseconds reach).
    static func nanoseconds(_ text: String, unit: TraceFormat.TimeUnit) -> Int64? {
        let scale: Int64 = switch unit { case .s: 1_000_000_000; case .ms: 1_000_000; case .us: 1_000; case .ns: 1 }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit), let whole = Int64(parts[0]),
              whole < Int64.max / scale / 2 else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            var place = scale
            guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return nil }
            for digit in digits {
                place /= 10
                guard place > 0 || digit == "0" else { return nil }  // finer than a nanosecond
                fraction += Int64(digit.asciiValue.map { $0 - 48 } ?? 0) * place
            }
        }
        return whole * scale + fraction
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// RFC 3339 timestamps (`2026-11-30T08:00:00.123456Z`, `…+01:00`) as Unix nanoseconds and back,
/// without Foundation's formatters.
enum RFC3339 {
    /// `2026-11-30T08:00:00.123Z`: UTC, milliseconds (truncated), for log lines.
    static func string(nanoseconds: Int64) -> String {
        let milliseconds = nanoseconds >= 0 ? nanoseconds / 1_000_000 : (nanoseconds - 999_999) / 1_000_000
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (year, month, day) = civilFromDays(days)
        let secondOfDay = seconds - days * 86_400
        func padded(_ n: Int64, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2) + "T" + padded(secondOfDay / 3600, 2) + ":"
            + padded(secondOfDay / 60 % 60, 2) + ":" + padded(secondOfDay % 60, 2) + "." + padded(milliseconds - seconds * 1000, 3) + "Z"
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, doy - (153 * mp + 2) / 5 + 1)
    }

    static func nanoseconds(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var n: Int64 = 0
            for i in from..<(from + count) {
                guard (48...57).contains(b[i]) else { return nil }
                n = n * 10 + Int64(b[i] - 48)
            }
            return n
        }
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var place: Int64 = 100_000_000
            let start = i
            while i < b.count, (48...57).contains(b[i]) {
                fraction += Int64(b[i] - 48) * place
                place /= 10
                i += 1
            }
            guard i > start, i - start <= 9 else { return nil }
        }
        var offset: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let oh = number(i + 1, 2), b.count > i + 3,
                  b[i + 3] == UInt8(ascii: ":"), let om = number(i + 4, 2) {
            offset = (oh * 60 + om) * 60 * (b[i] == UInt8(ascii: "+") ? 1 : -1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        guard seconds >= 0 else { return nil }
        return seconds * 1_000_000_000 + fraction
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
