/// Parses durations such as `500ms`, `1s`, `1m`, `1h`, `1d` and sums such as `1m30s`.
public enum DurationParser {
    private static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000),
        ("h", 3_600_000_000_000), ("d", 86_400_000_000_000),
    ]

    /// The duration in nanoseconds, or nil when `text` is not a duration. Units go from the
    /// largest to the smallest, each at most once (`1m30s`, not `1s1s` or `1ms1d`: red team 2, F22).
    public static func parse(_ text: String) -> Nanoseconds? {
        var rest = Substring(text)
        var total: Int64 = 0
        var previous = Int64.max
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 12, let value = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let letters = rest.prefix { $0.isASCII && $0.isLetter }
            guard let unit = units.first(where: { $0.suffix == letters }), unit.nanoseconds < previous else { return nil }
            previous = unit.nanoseconds
            rest = rest.dropFirst(letters.count)
            let (part, overflow) = value.multipliedReportingOverflow(by: unit.nanoseconds)
            guard !overflow else { return nil }
            let (sum, overflow2) = total.addingReportingOverflow(part)
            guard !overflow2 else { return nil }
            total = sum
        }
        return total
    }

    /// The shortest text that parses back to `ns` (e.g. `90s` → `1m30s`).
    public static func format(_ ns: Nanoseconds) -> String {
        if ns == 0 { return "0ms" }
        var rest = ns
        var out = ""
        for unit in units.sorted(by: { $0.nanoseconds > $1.nanoseconds }) where rest >= unit.nanoseconds {
            out += "\(rest / unit.nanoseconds)\(unit.suffix)"
            rest %= unit.nanoseconds
        }
        return rest == 0 ? out : out + "+\(rest)ns"
    }
}
