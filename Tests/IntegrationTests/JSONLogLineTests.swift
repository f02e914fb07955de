@testable import SluiceApp
import Testing

/// `--log-format json` lines, written without Foundation: one sorted object, RFC 3339 UTC time.
@Suite struct JSONLogLineTests {
    @Test func aLineIsOneSortedObjectWithEscapesAndAnRFC3339Time() {
        let line = JSONLogHandler.line(
            time: 1_796_083_200_123_999_999, level: .warning, label: "sluice", message: "say \"hi\"\n\u{1}",
            metadata: ["rule": "a/b", "level": "not the level"])
        #expect(line == #"{"label":"sluice","level":"warning","msg":"say \"hi\"\n\u0001","rule":"a/b","ts":"2026-12-01T00:00:00.123Z"}"# + "\n")
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"), (951_868_799_999_000_000, "2000-02-29T23:59:59.999Z"),
        (1_796_083_200_000_000_000, "2026-12-01T00:00:00.000Z"), (-1_000_000, "1969-12-31T23:59:59.999Z"),
    ])
    func timesAreUTCWithMilliseconds(nanoseconds: Int64, text: String) {
        #expect(RFC3339.string(nanoseconds: nanoseconds) == text)
        if nanoseconds >= 0 { #expect(RFC3339.nanoseconds(text) == nanoseconds / 1_000_000 * 1_000_000) }
    }
}
